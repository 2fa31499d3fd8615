"""Price lists: the exchange's (scope "exchange") and each clinic's own lines over it."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.domain.plan_import import PriceLine
from backend.runtime.ids import new_id
from backend.store.rows import PriceRow, typed
from backend.store.tables import PriceEntry

EXCHANGE_SCOPE = "exchange"

FIELDS = (
    PriceEntry.code,
    PriceEntry.specialization,
    PriceEntry.title_ru,
    PriceEntry.title_en,
    PriceEntry.price,
    PriceEntry.result_condition,
    PriceEntry.course_days,
    PriceEntry.updated_at,
)


def scope_of(clinic_id: UUID | None) -> str:
    return str(clinic_id) if clinic_id else EXCHANGE_SCOPE


async def effective(clinic_id: UUID) -> dict[str, PriceLine]:
    """Code → line: the exchange's list with the clinic's own lines laid over it."""
    scopes = [EXCHANGE_SCOPE, str(clinic_id)]
    rows = await PriceEntry.select(PriceEntry.scope, *FIELDS).where(PriceEntry.scope.is_in(scopes))
    rows.sort(key=lambda r: scopes.index(r["scope"]))
    return {r["code"]: typed(r, PriceLine) for r in rows}


async def page(scope: str, *, after: str | None, limit: int) -> list[PriceRow]:
    """One scope's lines in code order, after the given code."""
    query = PriceEntry.select(*FIELDS).where(PriceEntry.scope == scope)
    if after:
        query = query.where(PriceEntry.code > after)
    return [typed(r, PriceRow) for r in await query.order_by(PriceEntry.code).limit(limit)]


async def upsert(scope: str, entries: list[dict[str, Any]], now: datetime) -> None:
    """Write the given codes' lines; codes not given stay as they are (nothing deleted)."""
    if not entries:
        return
    await PriceEntry.insert(
        *(PriceEntry(id=new_id(), scope=scope, updated_at=now, **e) for e in entries)
    ).on_conflict(
        target=(PriceEntry.scope, PriceEntry.code),
        action="DO UPDATE",
        values=FIELDS[1:],
    )

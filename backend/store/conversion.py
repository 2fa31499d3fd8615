"""Conversion positions (one derived row per referral) and the counts a period's
conversion table is made of."""

from datetime import date
from typing import Any
from uuid import UUID

from piccolo.query.functions.aggregate import Count

from backend.domain.conversion import Count as Counted
from backend.domain.conversion import Position
from backend.store import sql
from backend.store.engine import reports_node
from backend.store.tables import ConversionPosition as Row

STORED_COLUMNS = (
    "clinic",
    "sent_day",
    "specialization",
    "coordinator",
    "reached",
    "status",
    "transfer",
)
STORED = f"SELECT {', '.join(STORED_COLUMNS)} FROM conversion_position WHERE id = {{}}"  # noqa: S608


def _as_stored(position: Position) -> tuple:
    return (
        position.clinic_id,
        position.sent_day,
        position.specialization,
        position.coordinator,
        position.reached,
        position.status,
        position.transfer,
    )


async def replace(referral_id: UUID, position: Position | None, stored: tuple | None) -> None:
    """The referral's position as it is now (none for a referral never sent): one
    upsert, or one delete when it has none; nothing when it is as `stored` (the row of
    STORED as a tuple; None: none)."""
    if (None if position is None else _as_stored(position)) == stored:
        return
    if position is None:
        await sql.run("DELETE FROM conversion_position WHERE id = {}", referral_id)
        return
    await sql.run(
        "INSERT INTO conversion_position (id, clinic, sent_day, specialization, coordinator, "
        "reached, status, transfer) VALUES ({}, {}, {}, {}, {}, {}, {}, {}) "
        "ON CONFLICT (id) DO UPDATE SET clinic = excluded.clinic, "
        "sent_day = excluded.sent_day, specialization = excluded.specialization, "
        "coordinator = excluded.coordinator, reached = excluded.reached, "
        "status = excluded.status, transfer = excluded.transfer",
        referral_id,
        *_as_stored(position),
    )


GROUP_COLUMNS = {
    "total": [],
    "clinic": [],  # the clinic is always grouped by
    "coordinator": [Row.coordinator],
    "specialization": [Row.specialization],
}


async def counts(
    clinic_ids: list[UUID] | None,
    first: date,
    last: date,
    *,
    by: str = "total",
    specialization: str | None = None,
) -> list[Counted]:
    """Referrals sent in [first, last] (transfers are not new referrals), counted by
    clinic, the group, the step reached and the status."""
    keys = [Row.clinic, *GROUP_COLUMNS[by], Row.reached, Row.status]
    where = (Row.sent_day >= first) & (Row.sent_day <= last) & (Row.transfer == False)  # noqa: E712
    if clinic_ids is not None:
        where &= Row.clinic.is_in(clinic_ids or [UUID(int=0)])
    if specialization is not None:
        where &= Row.specialization == specialization
    rows = await (
        Row.select(*keys, Count(Row.id).as_alias("n"))
        .where(where)
        .group_by(*keys)
        .run(node=reports_node())
    )
    return [
        Counted(
            clinic_id=r["clinic"],
            group=_group(r, by),
            reached=int(r["reached"]),
            status=r["status"],
            count=int(r["n"]),
        )
        for r in rows
    ]


def _group(row: dict[str, Any], by: str) -> str:
    if by == "clinic":
        return str(row["clinic"])
    return row.get(by, "") if by != "total" else ""

"""Plan versions with their items and tooth states."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from backend.domain.plans import PlanItem, ToothState
from backend.ids import new_id
from backend.store.tables import Plan
from backend.store.tables import PlanItem as PlanItemRow
from backend.store.tables import ToothState as ToothStateRow

T = TypeVar("T")


async def insert_version(
    *,
    plan_id: UUID,
    referral_id: UUID,
    version: int,
    origin: str,
    currency: str,
    items: list[PlanItem],
    teeth: list[ToothState],
    chosen_variant: str | None,
    reason: str | None,
    created_by: str,
    now: datetime,
) -> None:
    await Plan.insert(
        Plan(
            id=plan_id,
            referral=referral_id,
            version=version,
            origin=origin,
            currency=currency,
            chosen_variant=chosen_variant,
            reason=reason,
            created_by=created_by,
            created_at=now,
        )
    )
    if items:
        await PlanItemRow.insert(
            *(PlanItemRow(id=new_id(), plan=plan_id, **msgspec.structs.asdict(i)) for i in items)
        )
    if teeth:
        await ToothStateRow.insert(
            *(ToothStateRow(id=new_id(), plan=plan_id, **msgspec.structs.asdict(t)) for t in teeth)
        )


async def latest_version(referral_id: UUID) -> int:
    row = (
        await Plan.select(Plan.version)
        .where(Plan.referral == referral_id)
        .order_by(Plan.version, ascending=False)
        .first()
    )
    return row["version"] if row else 0


async def versions_of(referral_id: UUID) -> list[dict[str, Any]]:
    return await Plan.raw("SELECT * FROM plan WHERE referral = {} ORDER BY version", referral_id)


async def items_by_plan(referral_id: UUID) -> dict[UUID, list[PlanItem]]:
    """Every plan version's items of a referral, in one statement, in stage order."""
    rows = await PlanItemRow.raw(
        "SELECT i.plan, i.item_id, i.specialization, i.price, i.stage, i.position, i.variant, "
        "i.code, i.title_ru, i.title_en, i.tooth, i.chair_minutes, i.course_days "
        "FROM plan_item i JOIN plan p ON p.id = i.plan WHERE p.referral = {} "
        "ORDER BY i.stage, i.position",
        referral_id,
    )
    return _by_plan(rows, PlanItem)


async def teeth_by_plan(referral_id: UUID) -> dict[UUID, list[ToothState]]:
    """Every plan version's tooth states of a referral, in one statement."""
    rows = await ToothStateRow.raw(
        "SELECT t.plan, t.tooth, t.phase, t.condition, t.note FROM tooth_state t "
        "JOIN plan p ON p.id = t.plan WHERE p.referral = {}",
        referral_id,
    )
    return _by_plan(rows, ToothState)


def _by_plan(rows: list[dict[str, Any]], make: Callable[..., T]) -> dict[UUID, list[T]]:
    """Rows grouped by their plan version, each made into `make` (the rest of its columns)."""
    found: dict[UUID, list[T]] = {}
    for row in rows:
        plan = row.pop("plan")
        found.setdefault(UUID(str(plan)), []).append(make(**row))
    return found


async def items_of(plan_id: UUID) -> list[PlanItem]:
    rows = (
        await PlanItemRow.select(*(getattr(PlanItemRow, f) for f in PlanItem.__struct_fields__))
        .where(PlanItemRow.plan == plan_id)
        .order_by(PlanItemRow.stage)
        .order_by(PlanItemRow.position)
    )
    return [PlanItem(**r) for r in rows]


async def teeth_of(plan_id: UUID) -> list[ToothState]:
    rows = await ToothStateRow.select(
        ToothStateRow.tooth, ToothStateRow.phase, ToothStateRow.condition, ToothStateRow.note
    ).where(ToothStateRow.plan == plan_id)
    return [ToothState(**r) for r in rows]

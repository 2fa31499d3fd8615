"""Plan versions with their items and tooth states."""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from backend.ids import new_id
from backend.store.tables import Plan, PlanItem, ToothState


class ItemRow(msgspec.Struct, frozen=True, kw_only=True):
    item_id: UUID
    specialization: str
    price: int
    stage: int = 1
    position: int = 0
    variant: str | None = None
    code: str = ""
    title_ru: str = ""
    title_en: str = ""
    tooth: int | None = None
    chair_minutes: int | None = None
    course_days: int | None = None


class ToothRow(msgspec.Struct, frozen=True, kw_only=True):
    tooth: int
    phase: str
    condition: str
    note: str = ""


async def insert_version(
    *,
    plan_id: UUID,
    referral_id: UUID,
    version: int,
    origin: str,
    currency: str,
    items: list[ItemRow],
    teeth: list[ToothRow],
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
        await PlanItem.insert(
            *(PlanItem(id=new_id(), plan=plan_id, **msgspec.structs.asdict(i)) for i in items)
        )
    if teeth:
        await ToothState.insert(
            *(ToothState(id=new_id(), plan=plan_id, **msgspec.structs.asdict(t)) for t in teeth)
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
    return await Plan.select().where(Plan.referral == referral_id).order_by(Plan.version)


async def items_of(plan_id: UUID) -> list[ItemRow]:
    rows = (
        await PlanItem.select(*(getattr(PlanItem, f) for f in ItemRow.__struct_fields__))
        .where(PlanItem.plan == plan_id)
        .order_by(PlanItem.stage)
        .order_by(PlanItem.position)
    )
    return [ItemRow(**r) for r in rows]


async def teeth_of(plan_id: UUID) -> list[ToothRow]:
    rows = await ToothState.select(
        ToothState.tooth, ToothState.phase, ToothState.condition, ToothState.note
    ).where(ToothState.plan == plan_id)
    return [ToothRow(**r) for r in rows]

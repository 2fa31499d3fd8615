"""Plan versions with their items and tooth states."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from backend.domain.plans import Explanation, PlanItem, ToothState, VariantInfo
from backend.runtime.ids import new_id
from backend.store.engine import reports_node
from backend.store.rows import CodedItem, PlanRow, typed
from backend.store.tables import Plan, PlanExplanation, PlanVariant
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
    variants: list[VariantInfo] | tuple = (),
    explanations: list[Explanation] | tuple = (),
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
    if variants:
        await PlanVariant.insert(
            *(PlanVariant(id=new_id(), plan=plan_id, **msgspec.structs.asdict(v)) for v in variants)
        )
    if explanations:
        await PlanExplanation.insert(
            *(
                PlanExplanation(
                    id=new_id(),
                    plan=plan_id,
                    **(msgspec.structs.asdict(e) | {"specialists": ",".join(e.specialists)}),
                )
                for e in explanations
            )
        )


async def latest_version(referral_id: UUID) -> int:
    row = (
        await Plan.select(Plan.version)
        .where(Plan.referral == referral_id)
        .order_by(Plan.version, ascending=False)
        .first()
    )
    return row["version"] if row else 0


async def versions_of(referral_id: UUID) -> list[PlanRow]:
    """A referral's plan versions, oldest first."""
    rows = await Plan.raw(
        "SELECT id, referral, version, origin, currency, chosen_variant, reason, created_by, "
        "created_at FROM plan WHERE referral = {} ORDER BY version",
        referral_id,
    )
    return [typed(r, PlanRow) for r in rows]


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
        "SELECT t.plan, t.tooth, t.phase, t.condition, t.note, t.variant FROM tooth_state t "
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
        ToothStateRow.tooth,
        ToothStateRow.phase,
        ToothStateRow.condition,
        ToothStateRow.note,
        ToothStateRow.variant,
    ).where(ToothStateRow.plan == plan_id)
    return [ToothState(**r) for r in rows]


async def variants_by_plan(referral_id: UUID) -> dict[UUID, list[VariantInfo]]:
    """Every plan version's variant descriptions of a referral, in one statement."""
    rows = await PlanVariant.raw(
        "SELECT v.plan, v.variant, v.position, v.title_ru, v.title_en, v.pros_ru, v.pros_en, "
        "v.cons_ru, v.cons_en FROM plan_variant v JOIN plan p ON p.id = v.plan "
        "WHERE p.referral = {} ORDER BY v.position",
        referral_id,
    )
    return _by_plan(rows, VariantInfo)


async def explanations_by_plan(referral_id: UUID) -> dict[UUID, list[Explanation]]:
    """Every plan version's explanations of a referral, in one statement, in order."""
    rows = await PlanExplanation.raw(
        "SELECT e.plan, e.position, e.variant, e.stage, e.item_id, e.visit, e.problem_ru, "
        "e.problem_en, e.solution_ru, e.solution_en, e.specialists FROM plan_explanation e "
        "JOIN plan p ON p.id = e.plan WHERE p.referral = {} ORDER BY e.position",
        referral_id,
    )
    for row in rows:
        row["specialists"] = tuple(s for s in (row["specialists"] or "").split(",") if s)
        if row["item_id"] is not None:
            row["item_id"] = UUID(str(row["item_id"]))
    return _by_plan(rows, Explanation)


async def actual_coded_items_sent_between(start: datetime, end: datetime) -> list[CodedItem]:
    """Coded lines of every actual plan version of the referrals sent in [start, end), with
    the version, the chosen variant and the referral's patient, clinic and sending time."""
    plan = PlanItemRow.plan
    rows = await (
        PlanItemRow.select(
            PlanItemRow.code,
            PlanItemRow.specialization,
            PlanItemRow.price,
            PlanItemRow.variant,
            plan.version.as_alias("version"),
            plan.chosen_variant.as_alias("chosen"),
            plan.referral.id.as_alias("referral"),
            plan.referral.patient.as_alias("patient"),
            plan.referral.clinic.as_alias("clinic"),
            plan.referral.sent_at.as_alias("sent_at"),
        )
        .where(
            (plan.origin == "actual")
            & (PlanItemRow.code != "")
            & (plan.referral.sent_at >= start)
            & (plan.referral.sent_at < end)
        )
        .run(node=reports_node())
    )
    return [typed(r, CodedItem) for r in rows]

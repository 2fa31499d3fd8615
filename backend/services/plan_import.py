"""Price lists, and referrals whose estimated plan comes from an AI analysis."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from backend.domain.mis_events import Price
from backend.domain.norms import Specialization
from backend.domain.plan_import import (
    DEFAULT_MIN_PROBABILITY,
    Analysis,
    CannotImport,
    ImportedPlan,
    import_plan,
)
from backend.domain.teeth import ToothCondition
from backend.runtime.clock import utcnow
from backend.services.errors import Invalid, NotFound
from backend.services.referrals import (
    PatientIn,
    PlanIn,
    PlanItemIn,
    SentReferral,
    ToothIn,
    send_referral,
)
from backend.store import parties, prices
from backend.store.engine import write_transaction
from backend.store.norms import norms_for
from backend.store.rows import ClinicRow, PriceRow

MAX_LINES = 2000


class PriceEntryIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^\S+$")]
    specialization: Specialization
    title_ru: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    title_en: Annotated[str, msgspec.Meta(max_length=300)] = ""
    price: Price
    result_condition: ToothCondition | None = None
    course_days: Annotated[int, msgspec.Meta(ge=0, le=2_000)] | None = None


async def set_prices(
    clinic_id: UUID | None, entries: list[PriceEntryIn], now: datetime | None = None
) -> int:
    """Write lines of the exchange's list (no clinic) or of a clinic's own list."""
    codes = [e.code for e in entries]
    if twice := sorted({c for c in codes if codes.count(c) > 1}):
        raise Invalid("a code appears twice: " + ", ".join(twice))
    async with write_transaction():
        if clinic_id is not None:
            await _clinic(clinic_id)
        await prices.upsert(
            prices.scope_of(clinic_id),
            [
                msgspec.structs.asdict(e) | {"specialization": str(e.specialization)}
                for e in entries
            ],
            now or utcnow(),
        )
    return len(entries)


async def price_page(clinic_id: UUID | None, *, after: str | None, limit: int) -> list[PriceRow]:
    if clinic_id is not None:
        await _clinic(clinic_id)
    return await prices.page(prices.scope_of(clinic_id), after=after, limit=limit)


async def preview(
    clinic_id: UUID, analysis: Analysis, min_probability: float = DEFAULT_MIN_PROBABILITY
) -> ImportedPlan:
    """The plan an analysis becomes at this clinic, with what was left out and why."""
    await _clinic(clinic_id)
    try:
        return import_plan(
            analysis, await prices.effective(clinic_id), await norms_for(clinic_id), min_probability
        )
    except CannotImport as exc:
        raise Invalid(f"analysis: {exc}") from exc


async def import_referral(
    *,
    patient: PatientIn,
    clinic_id: UUID,
    analysis: Analysis,
    currency: str,
    min_probability: float,
    actor: str,
    idempotency_key: str | None,
) -> tuple[SentReferral, ImportedPlan]:
    """Send a referral with the plan the analysis becomes. The analysis id is the
    natural idempotency key: importing the same analysis twice gives one referral."""
    plan = await preview(clinic_id, analysis, min_probability)
    key = idempotency_key or (f"ai:{analysis.analysis_id}" if analysis.analysis_id else None)
    sent = await send_referral(
        patient=patient,
        clinic_id=clinic_id,
        plan=plan_in(plan, currency),
        actor=actor,
        idempotency_key=key,
    )
    return sent, plan


def plan_in(plan: ImportedPlan, currency: str) -> PlanIn:
    return PlanIn(
        currency=currency,
        items=[
            PlanItemIn(
                specialization=Specialization(d.specialization),
                price=d.price,
                title_ru=d.title_ru,
                title_en=d.title_en,
                code=d.code,
                tooth=d.tooth,
                stage=d.stage,
                variant=d.variant,
                chair_minutes=d.chair_minutes,
                course_days=d.course_days,
            )
            for d in plan.items
        ],
        teeth=[
            ToothIn(tooth=t.tooth, phase=t.phase, condition=ToothCondition(t.condition))
            for t in plan.teeth
        ],
    )


async def _clinic(clinic_id: UUID) -> ClinicRow:
    clinic = await parties.clinic(clinic_id)
    if clinic is None:
        raise NotFound("no such clinic")
    return clinic

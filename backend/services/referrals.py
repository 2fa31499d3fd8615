"""Sending a referral to a clinic, and the clinic's revisions of its plan."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.domain.events import PlanLine, PlanSet, Sent, Source
from backend.domain.mis_events import PlanLineData
from backend.domain.norms import Specialization
from backend.domain.plans import Explanation, PlanItem, ToothState, VariantInfo
from backend.domain.teeth import Tooth, ToothCondition, is_valid_tooth
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id, short_code
from backend.services import sms
from backend.services.crm_outbound import announce_referral
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.phones import BadPhone, normalise_phone
from backend.services.recording import Statement, record_locked
from backend.store import ledger, parties, plans, referrals
from backend.store.engine import write_transaction


class PatientIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    phone: Annotated[str, msgspec.Meta(min_length=5, max_length=32)]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    locale: Literal["ru", "en"] = "ru"


class PlanItemIn(PlanLineData, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One procedure of a plan the exchange sends or a clinic revises: the same line an
    MIS writes (its fields and limits are the domain's). A revision keeps an item's id to
    say "this is the same procedure"; a new plan may name its items, each once."""


Letter = Annotated[str, msgspec.Meta(pattern="^[A-Z]$", description="A, B, C…")]
Words = Annotated[str, msgspec.Meta(max_length=2000)]


class ToothIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tooth: Tooth
    phase: Literal["before", "after"]
    condition: ToothCondition
    note: Annotated[str, msgspec.Meta(max_length=300)] = ""
    # An after-state of one variant only (implant in A, bridge in B); none: every variant.
    variant: Letter | None = None


class VariantIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a variant is called and what speaks for and against it (a point a line)."""

    variant: Letter
    title_ru: Annotated[str, msgspec.Meta(max_length=200, examples=["Имплантация"])] = ""
    title_en: Annotated[str, msgspec.Meta(max_length=200, examples=["Implant"])] = ""
    pros_ru: Words = ""
    pros_en: Words = ""
    cons_ru: Words = ""
    cons_en: Words = ""


class ExplanationIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Visit – problem – solution, for one item (`item`: its index in `items`, from 0),
    one stage, or the whole variant (or plan)."""

    variant: Letter | None = None
    stage: Annotated[int, msgspec.Meta(ge=1, le=20)] | None = None
    item: Annotated[int, msgspec.Meta(ge=0, le=199)] | None = None
    visit: Annotated[int, msgspec.Meta(ge=1, le=99, description="at which visit")] | None = None
    problem_ru: Words = ""
    problem_en: Words = ""
    solution_ru: Words = ""
    solution_en: Words = ""
    specialists: Annotated[list[Specialization], msgspec.Meta(max_length=9)] = []


class PlanIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    items: Annotated[list[PlanItemIn], msgspec.Meta(min_length=1, max_length=200)]
    teeth: Annotated[list[ToothIn], msgspec.Meta(max_length=416)] = []
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] = "RUB"
    chosen_variant: Letter | None = None
    variants: Annotated[list[VariantIn], msgspec.Meta(max_length=26)] = []
    explanations: Annotated[list[ExplanationIn], msgspec.Meta(max_length=200)] = []


class SentReferral(msgspec.Struct, frozen=True, kw_only=True):
    referral_id: UUID
    patient_id: UUID
    invite_code: str
    duplicate: bool


def _check_plan(plan: PlanIn, known_items: frozenset[UUID] | None = None) -> None:
    """`known_items`: a revision's items may only be ones the plan already has; None: a
    new plan, whose items take the ids they are given (or new ones)."""
    # Also for plans built in code (the admin form), which msgspec has not validated.
    if not plan.items:
        raise Invalid("a plan needs at least one item")
    for i, item in enumerate(plan.items):
        if item.tooth is not None and not is_valid_tooth(item.tooth):
            raise Invalid(f"items[{i}].tooth: {item.tooth} is not an FDI tooth number")
        if known_items is not None and item.item_id is not None and item.item_id not in known_items:
            raise Invalid(f"items[{i}].item_id is not an item of this referral's plan")
    for i, tooth in enumerate(plan.teeth):
        if not is_valid_tooth(tooth.tooth):
            raise Invalid(f"teeth[{i}].tooth: {tooth.tooth} is not an FDI tooth number")
    ids = [item.item_id for item in plan.items if item.item_id is not None]
    if len(ids) != len(set(ids)):
        raise Invalid("an item_id appears twice in the plan")
    teeth_keys = [(t.tooth, t.phase, t.variant) for t in plan.teeth]
    if len(teeth_keys) != len(set(teeth_keys)):
        raise Invalid("a tooth appears twice in the same phase (and variant)")
    variants = {item.variant for item in plan.items if item.variant}
    if plan.chosen_variant and plan.chosen_variant not in variants:
        raise Invalid(f"chosen_variant {plan.chosen_variant} is not among the items' variants")
    described = [v.variant for v in plan.variants]
    if len(described) != len(set(described)):
        raise Invalid("a variant is described twice")
    if lonely := sorted(set(described) - variants):
        raise Invalid(f"variants {', '.join(lonely)} have no items")
    if described and (unnamed := sorted(variants - set(described))):
        raise Invalid(f"items name variants {', '.join(unnamed)} that `variants` does not describe")
    for i, t in enumerate(plan.teeth):
        if t.variant is not None and (t.variant not in variants or t.phase != "after"):
            raise Invalid(f"teeth[{i}].variant: only an after-state of an offered variant")
    for i, e in enumerate(plan.explanations):
        if e.variant is not None and e.variant not in variants:
            raise Invalid(f"explanations[{i}].variant: {e.variant} is not offered")
        if e.item is not None and e.item >= len(plan.items):
            raise Invalid(f"explanations[{i}].item: the plan has {len(plan.items)} items")
        if not (e.problem_ru or e.problem_en or e.solution_ru or e.solution_en):
            raise Invalid(f"explanations[{i}]: say the problem or the solution")


class PlanRows(msgspec.Struct, frozen=True, kw_only=True):
    """A plan as the store keeps it: items, chart, variants' words, explanations."""

    items: list[PlanItem]
    teeth: list[ToothState]
    variants: list[VariantInfo]
    explanations: list[Explanation]


def _plan_rows(plan: PlanIn) -> PlanRows:
    items = [
        PlanItem(
            item_id=item.item_id or new_id(),
            specialization=str(item.specialization),
            price=item.price,
            stage=item.stage,
            position=position,
            variant=item.variant,
            code=item.code,
            title_ru=item.title_ru,
            title_en=item.title_en,
            tooth=item.tooth,
            chair_minutes=item.chair_minutes,
            course_days=item.course_days,
        )
        for position, item in enumerate(plan.items)
    ]
    teeth = [
        ToothState(
            tooth=t.tooth, phase=t.phase, condition=str(t.condition), note=t.note, variant=t.variant
        )
        for t in plan.teeth
    ]
    infos = [
        VariantInfo(
            variant=v.variant,
            position=position,
            title_ru=v.title_ru,
            title_en=v.title_en,
            pros_ru=v.pros_ru,
            pros_en=v.pros_en,
            cons_ru=v.cons_ru,
            cons_en=v.cons_en,
        )
        for position, v in enumerate(plan.variants)
    ]
    explanations = [
        Explanation(
            position=position,
            variant=e.variant,
            stage=e.stage,
            item_id=items[e.item].item_id if e.item is not None else None,
            visit=e.visit,
            problem_ru=e.problem_ru,
            problem_en=e.problem_en,
            solution_ru=e.solution_ru,
            solution_en=e.solution_en,
            specialists=tuple(str(x) for x in e.specialists),
        )
        for position, e in enumerate(plan.explanations)
    ]
    return PlanRows(items=items, teeth=teeth, variants=infos, explanations=explanations)


def plan_set_event(
    plan_id: UUID,
    version: int,
    origin: str,
    currency: str,
    items: list[PlanItem],
    chosen_variant: str | None,
    reason: str | None,
) -> PlanSet:
    """The ledger's record of a plan version: the money-relevant part of each item."""
    return PlanSet(
        plan_id=plan_id,
        version=version,
        origin=origin,
        currency=currency,
        chosen_variant=chosen_variant,
        reason=reason,
        lines=[
            PlanLine(
                item_id=i.item_id,
                price=i.price,
                specialization=i.specialization,
                stage=i.stage,
                variant=i.variant,
                course_days=i.course_days,
            )
            for i in items
        ],
    )


async def send_referral(
    *,
    patient: PatientIn,
    clinic_id: UUID,
    plan: PlanIn,
    source: Source = Source.exchange,
    actor: str,
    idempotency_key: str | None = None,
    sent_at: datetime | None = None,
    now: datetime | None = None,
    patient_timezone: str | None = None,
) -> SentReferral:
    """Send a patient with an estimated plan to a clinic. With an idempotency key (the
    exchange's order id), sending the same order again returns the first referral."""
    now = now or utcnow()
    try:
        phone = normalise_phone(patient.phone)
    except BadPhone as exc:
        raise Invalid(f"patient.phone: {exc}") from exc
    _check_plan(plan)
    sent_key = f"sent:{idempotency_key}" if idempotency_key else None

    async with write_transaction():
        if sent_key and (earlier := await ledger.by_key(source, sent_key)) is not None:
            row = await referrals.get(earlier.referral_id)
            assert row is not None
            return SentReferral(
                referral_id=row.id,
                patient_id=row.patient,
                invite_code=row.invite_code,
                duplicate=True,
            )
        clinic = await parties.clinic(clinic_id)
        if clinic is None or clinic.archived_at is not None:
            raise NotFound("no such clinic")

        existing = await parties.patient_by_phone(phone)
        if existing is None:
            patient_id = new_id()
            await parties.insert_patient(
                patient_id=patient_id,
                phone=phone,
                name=patient.name,
                locale=patient.locale,
                timezone=patient_timezone or clinic.timezone,
                now=now,
            )
        else:
            patient_id = existing.id

        referral_id, plan_id = new_id(), new_id()
        invite_code = short_code()
        sent_at = sent_at or now
        await referrals.insert(
            referral_id=referral_id,
            patient_id=patient_id,
            clinic_id=clinic_id,
            invite_code=invite_code,
            sent_at=sent_at,
            currency=plan.currency,
            now=now,
        )
        rows = _plan_rows(plan)
        items = rows.items
        await plans.insert_version(
            plan_id=plan_id,
            referral_id=referral_id,
            version=1,
            origin="estimated",
            currency=plan.currency,
            items=rows.items,
            teeth=rows.teeth,
            variants=rows.variants,
            explanations=rows.explanations,
            chosen_variant=plan.chosen_variant,
            reason=None,
            created_by=actor,
            now=now,
        )
        locked = await referrals.lock(referral_id)
        assert locked is not None
        await record_locked(
            locked,
            [
                Statement(
                    body=plan_set_event(
                        plan_id, 1, "estimated", plan.currency, items, plan.chosen_variant, None
                    ),
                    source=source,
                    actor=actor,
                    occurred_at=sent_at,
                    idempotency_key=f"plan:{plan_id}",
                ),
                Statement(
                    body=Sent(clinic_id=clinic_id),
                    source=source,
                    actor=actor,
                    occurred_at=sent_at,
                    idempotency_key=sent_key or f"sent:{referral_id}",
                ),
            ],
            now,
        )
        await announce_referral(referral_id, clinic_id, now)
        await sms.invite(referral_id=referral_id, patient_id=patient_id, sent_at=sent_at, now=now)
    return SentReferral(
        referral_id=referral_id, patient_id=patient_id, invite_code=invite_code, duplicate=False
    )


async def revise_plan(
    referral_id: UUID,
    plan: PlanIn,
    *,
    reason: str,
    source: Source,
    actor: str,
    idempotency_key: str | None = None,
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """The clinic's actual plan, as a new version beside the estimate. Returns the version."""
    now = now or utcnow()
    if not reason.strip():
        raise Invalid("a plan revision needs a reason the patient can read")
    async with write_transaction():
        locked = await referrals.lock(referral_id)
        if locked is None:
            raise NotFound("no such referral")
        if idempotency_key and (earlier := await ledger.by_key(source, idempotency_key)):
            if not isinstance(earlier.body, PlanSet) or earlier.referral_id != referral_id:
                raise Conflict("this idempotency key was already used for something else")
            return earlier.body.version
        current = await referrals.get(referral_id)
        assert current is not None
        if plan.currency != current.currency:
            raise Invalid(f"the referral is in {current.currency}, not {plan.currency}")
        known = frozenset(
            line.item_id
            for e in await ledger.events_of(referral_id)
            if isinstance(e.body, PlanSet)
            for line in e.body.lines
        )
        _check_plan(plan, known)
        version = await plans.latest_version(referral_id) + 1
        plan_id = new_id()
        rows = _plan_rows(plan)
        items = rows.items
        await plans.insert_version(
            plan_id=plan_id,
            referral_id=referral_id,
            version=version,
            origin="actual",
            currency=plan.currency,
            items=rows.items,
            teeth=rows.teeth,
            variants=rows.variants,
            explanations=rows.explanations,
            chosen_variant=plan.chosen_variant,
            reason=reason,
            created_by=actor,
            now=now,
        )
        await record_locked(
            locked,
            [
                Statement(
                    body=plan_set_event(
                        plan_id,
                        version,
                        "actual",
                        plan.currency,
                        items,
                        plan.chosen_variant,
                        reason,
                    ),
                    source=source,
                    actor=actor,
                    occurred_at=occurred_at,
                    idempotency_key=idempotency_key or f"plan:{plan_id}",
                )
            ],
            now,
        )
    return version

"""From service results to the clinic and exchange API's bodies."""

from datetime import datetime
from typing import Any, TypeVar

import msgspec

from backend.domain.money_funnel import Funnel, months_of_reserve
from backend.domain.norms import effective_norms
from backend.domain.variants import overview
from backend.routes import staff_schemas as s
from backend.routes.paging import encode_cursor
from backend.services.desk import (
    AppointmentRow,
    DeskRating,
    DeskReferral,
    Dispute,
    NobodyCalled,
    ReferralCard,
)
from backend.services.exchange_admin import ClinicRow
from backend.services.integration_desk import DeliveryRow
from backend.services.recording import Recorded
from backend.services.reports import ClinicScore, MonthFlow

T = TypeVar("T")


def as_answer(row: msgspec.Struct, shape: type[T], **more: Any) -> T:
    """A row (or a figure) as an answer: its fields by name, `more` added or renamed."""
    return msgspec.convert({**msgspec.structs.asdict(row), **more}, shape, from_attributes=True)


def referral_rows(rows: list[DeskReferral], limit: int, *, with_phone: bool) -> s.ReferralList:
    page, more = rows[:limit], len(rows) > limit

    def row_out(r: DeskReferral) -> s.ReferralRow:
        money = {
            name: s.Amount(amount=getattr(r, f"{name}_amount"), currency=r.currency)
            for name in ("planned", "executed", "paid", "remaining")
        }
        return as_answer(
            r,
            s.ReferralRow,
            **money,
            clinic_id=r.clinic,
            patient_phone=r.patient_phone if with_phone else None,
            disputed=r.disputed_count,
            overdue=r.overdue_count,
        )

    last = page[-1] if page else None
    return s.ReferralList(
        items=[row_out(r) for r in page],
        next_cursor=encode_cursor(last.sent_at, last.id) if more and last else None,
    )


def rating(r: DeskRating) -> s.RatingOut:
    return as_answer(r, s.RatingOut, referral_id=r.referral)


def nobody_called(r: NobodyCalled) -> s.NobodyCalledRow:
    return as_answer(r, s.NobodyCalledRow, referral_id=r.referral, said_at=r.patient_said_at)


def card(c: ReferralCard, appointments: list[AppointmentRow]) -> s.ReferralCardOut:
    fold = c.fold
    plans = [
        s.PlanOut(
            plan_id=v.id,
            version=v.version,
            origin=v.origin,
            reason=v.reason,
            created_at=v.created_at,
            # The counted variant's total: alternatives are not added up.
            total=sum(i.price for i in v.counted_items),
            chosen_variant=v.variant,
            variants=[
                as_answer(
                    o.info,
                    s.VariantSummaryOut,
                    variant=o.variant,
                    counted=o.counted,
                    total=o.total,
                    course_days=o.course_days,
                )
                for o in overview(
                    v.items,
                    infos=v.variants,
                    explanations=v.explanations,
                    teeth=v.teeth,
                    chosen_variant=v.variant,
                    norms=c.norms or effective_norms(),
                )
                if o.variant is not None
            ],
            explanations=[
                as_answer(e, s.ExplanationOut, specialists=list(e.specialists))
                for e in v.explanations
            ],
            items=[
                as_answer(i, s.PlanItemOut, done_at=fold.done_items.get(i.item_id)) for i in v.items
            ],
        )
        for v in c.plans
    ]
    choice = fold.variant_choice
    rating = None
    if c.rating is not None:
        rating = {k: getattr(c.rating, k) for k in ("called", "stars", "comment", "updated_at")}
    return s.ReferralCardOut(
        id=c.referral.id,
        clinic_id=c.clinic.id,
        clinic_name=c.clinic.name,
        invite_code=c.referral.invite_code,
        transferred_from=c.referral.transferred_from,
        patient=as_answer(c.patient, s.PatientOut),
        step=fold.step.value,
        step_at=fold.step_at,
        closed_reason=fold.closed_reason,
        money={k: v for k, v in msgspec.structs.asdict(fold.money).items() if k != "currency"},
        currency=fold.money.currency,
        plans=plans,
        verifications=[
            as_answer(v, s.VerificationOut, state=v.state.value) for v in c.verifications.values()
        ],
        appointments=msgspec.convert(appointments, list[s.AppointmentOut], from_attributes=True),
        contact_rating=rating,
        chosen_variant=fold.plan.variant if fold.plan else None,
        variant_chosen_by=choice.by
        if choice and fold.plan and choice.variant == fold.plan.variant
        else None,
        variant_chosen_at=choice.occurred_at
        if choice and fold.plan and choice.variant == fold.plan.variant
        else None,
    )


def timeline(c: ReferralCard) -> s.Timeline:
    return s.Timeline(
        items=[
            s.TimelineEntry(
                event_id=e.id,
                kind=e.kind,
                side=e.side.value,
                source=e.source.value,
                actor=e.actor,
                occurred_at=e.occurred_at,
                recorded_at=e.recorded_at,
                retracted=e.id in c.fold.retracted,
                body=msgspec.to_builtins(e.body),
            )
            for e in sorted(c.events, key=lambda e: (e.occurred_at, e.id))
        ]
    )


def funnel(f: Funnel, clinics: list | None, months: list[MonthFlow]) -> s.FunnelOut:
    """Every figure of the funnel by its name; the lost money as a list by reason, and
    the months and the pace of the reserve beside it."""
    return as_answer(
        f,
        s.FunnelOut,
        clinics=clinics,
        lost_by_reason=[
            s.LostOut(reason=k, count=v.count, money=v.money) for k, v in f.lost_by_reason.items()
        ],
        months=msgspec.convert(months, list[s.MonthOut], from_attributes=True),
        # The pace: the three complete months before the current one.
        reserve_months=months_of_reserve(f.reserve_money, [m.executed for m in months[-4:-1]]),
    )


def scorecard(score: ClinicScore) -> s.ScorecardOut:
    return as_answer(
        score.card,
        s.ScorecardOut,
        clinic_id=score.clinic_id,
        clinic_name=score.clinic_name,
        trust_lower_bound=round(score.card.trust_lower_bound, 4),
    )


def dispute(d: Dispute, now: datetime) -> s.DisputeOut:
    return as_answer(d, s.DisputeOut, age_days=(now - d.since).days)


def dispute_page(rows: list[Dispute], limit: int, now: datetime) -> s.DisputeList:
    """A page of the dispute queue, from `limit + 1` rows (one more says there are more)."""
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    return s.DisputeList(
        items=[dispute(d, now) for d in page],
        next_cursor=encode_cursor(last.since, last.id) if more and last else None,
    )


def recorded(result: Recorded) -> s.ClaimRecorded:
    return s.ClaimRecorded(
        event_id=result.event.id, duplicate=result.duplicate, step=result.fold.step.value
    )


def clinic(row: ClinicRow, integration: Any = None) -> s.ClinicOut:
    out = msgspec.convert(row, s.ClinicOut, from_attributes=True)
    return msgspec.structs.replace(out, integration=integration_out(integration))


def integration_out(view: Any) -> s.IntegrationOut | None:
    """From services.integration_setup.IntegrationView."""
    return None if view is None else msgspec.convert(view, s.IntegrationOut, from_attributes=True)


def delivery(row: DeliveryRow, *, detail: bool = False) -> s.DeliveryOut:
    return as_answer(row, s.DeliveryDetail if detail else s.DeliveryOut, clinic_id=row.clinic)

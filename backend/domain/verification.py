"""Verification: the clinic's claims beside the patient's word, per milestone (docs/domain.md).

| clinic says        | patient says        | state            |
|--------------------|---------------------|------------------|
| happened           | confirms            | verified         |
| happened           | denies              | disputed         |
| happened           | no answer yet       | awaiting_patient |
| happened           | no answer, too late | unverified       |
| nothing            | says it happened    | clinic_silent    |
| nothing, SLA gone  | —                   | overdue          |
| nothing, not due   | —                   | pending          |
| exchange ruled it did not happen         | rejected         |

Rules for the corner cases:
- A patient's "yes" counts whenever it was said: a patient who reports "they called
  me" before the clinic records the call confirms that call when it is recorded.
- A patient's "no" counts only against a claim of something that happened before the
  patient said no; a call logged for after the patient's "nobody called" is a new
  claim and gets a new question.
- For a booking, an answer counts only for the appointment time it was about.
- The answer window runs from when the claim was recorded (when we could first ask),
  not from when the clinic says it happened, so a late-logged claim is still asked.
- An exchange ruling settles the claims it saw; a claim recorded after it is judged
  afresh.
- A plan changed by the clinic after the patient chose a variant (`plan`) is agreed to
  only by an answer given after that change.
"""

from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

import msgspec

from backend.domain.funnel import (
    BOOKED,
    COMPLETED,
    CONTACTED,
    PLAN,
    RECEIPT_PREFIX,
    VISITED,
    ClinicClaimRef,
    PatientSays,
    ReferralFold,
    item_milestone,
    receipt_milestone,
)
from backend.domain.working_time import DEFAULT_HOURS, WorkingHours, add_working_time


class VerificationState(StrEnum):
    verified = "verified"
    disputed = "disputed"
    awaiting_patient = "awaiting_patient"
    unverified = "unverified"
    clinic_silent = "clinic_silent"
    overdue = "overdue"
    pending = "pending"
    rejected = "rejected"


# States the exchange has to look at (its dispute queue).
NEEDS_EXCHANGE = frozenset({VerificationState.disputed, VerificationState.clinic_silent})


class VerificationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """A clinic's deadlines (backend.domain.clinic_settings makes one from its settings).
    The first-contact SLA is working time: counted in the clinic's hours, without its
    days off, in its zone (issue 20: "overdue" follows the clinic's SLA)."""

    contact_sla: timedelta = timedelta(hours=2)
    answer_window: timedelta = timedelta(hours=72)
    visit_grace: timedelta = timedelta(hours=3)  # after the appointment time
    hours: WorkingHours = DEFAULT_HOURS
    tz: tzinfo = UTC


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    milestone: str
    state: VerificationState
    claim_event_ids: tuple[int, ...] = ()  # the clinic claims this verification judges
    clinic_said_at: datetime | None = None
    appointment_at: datetime | None = None
    patient_event_id: int | None = None
    patient_answer: str | None = None
    patient_said_at: datetime | None = None
    resolution_event_id: int | None = None
    due_at: datetime | None = None  # when this state changes by itself, if nothing happens


def milestones_of(fold: ReferralFold) -> list[str]:
    """Every milestone of the referral, in funnel order: claimed, said, or still ahead."""
    keys = [CONTACTED, BOOKED, VISITED]
    if fold.plan is not None:
        keys += [item_milestone(line.item_id) for line in fold.plan.chosen_lines()]
    keys += [receipt_milestone(r.event_id) for r in fold.receipts]
    keys.append(COMPLETED)
    seen = set(keys)
    extra = [
        k for k in (*fold.clinic_claims, *fold.patient_says, *fold.resolutions) if k not in seen
    ]
    # Items claimed outside the chosen variant, or on an older plan version.
    return keys[:-1] + sorted(set(extra)) + keys[-1:]


def _latest(items, key=lambda x: (x.occurred_at, x.event_id)):
    return max(items, key=key) if items else None


def verify(
    fold: ReferralFold, now: datetime, policy: VerificationPolicy | None = None
) -> dict[str, Verification]:
    policy = policy or VerificationPolicy()
    return {m: verify_milestone(fold, m, now, policy) for m in milestones_of(fold)}


def verify_milestone(
    fold: ReferralFold, milestone: str, now: datetime, policy: VerificationPolicy
) -> Verification:
    claims = fold.clinic_claims.get(milestone, ())
    ruling = fold.resolutions.get(milestone)
    if ruling is not None and not any(c.event_id > ruling.event_id for c in claims):
        return Verification(
            milestone=milestone,
            state=(
                VerificationState.verified
                if ruling.outcome == "happened"
                else VerificationState.rejected
            ),
            claim_event_ids=tuple(c.event_id for c in claims),
            resolution_event_id=ruling.event_id,
        )
    if milestone.startswith(RECEIPT_PREFIX):
        return _verify_receipt(fold, milestone)
    ids = tuple(c.event_id for c in claims)
    if ruling is not None:  # the ruling settled what it saw; judge only what came after
        claims = tuple(c for c in claims if c.event_id > ruling.event_id)

    says = [s for s in fold.patient_says.get(milestone, ()) if s.answer != "unsure"]
    claim: ClinicClaimRef | None = _latest(claims)

    if claim is not None:
        if milestone == BOOKED:
            says = [s for s in says if _about_this_booking(fold, s, claim)]
        if milestone == PLAN:
            # Agreeing with one version of the plan is not agreeing with the next.
            says = [s for s in says if s.occurred_at >= claim.occurred_at]
        says = [s for s in says if s.answer == "yes" or s.occurred_at >= claim.occurred_at]
        said: PatientSays | None = _latest(says)
        base = dict(
            milestone=milestone,
            claim_event_ids=ids,
            clinic_said_at=claim.occurred_at,
            appointment_at=claim.appointment_at,
        )
        if said is not None:
            base |= dict(
                patient_event_id=said.event_id,
                patient_answer=said.answer,
                patient_said_at=said.occurred_at,
            )
        if claim.cosigned or (said is not None and said.answer == "yes"):
            return Verification(state=VerificationState.verified, **base)
        if said is not None:
            return Verification(state=VerificationState.disputed, **base)
        deadline = claim.recorded_at + policy.answer_window
        if now < deadline:
            return Verification(state=VerificationState.awaiting_patient, due_at=deadline, **base)
        return Verification(state=VerificationState.unverified, **base)

    said = _latest(says)
    base = dict(milestone=milestone)
    if said is not None:
        base |= dict(
            patient_event_id=said.event_id,
            patient_answer=said.answer,
            patient_said_at=said.occurred_at,
        )
    if said is not None and said.answer == "yes":
        return Verification(state=VerificationState.clinic_silent, **base)
    deadline = _sla_deadline(fold, milestone, policy)
    if deadline is not None and now >= deadline:
        return Verification(state=VerificationState.overdue, **base)
    return Verification(state=VerificationState.pending, due_at=deadline, **base)


def _verify_receipt(fold: ReferralFold, milestone: str) -> Verification:
    """A receipt beside the clinic's reported payments: one of the same amount backs it
    (verified); one nearby with another amount contradicts it (disputed); none at all is
    a payment the clinic did not report (clinic silent). Never asked of the patient: the
    receipt is already the patient's word."""
    event_id = int(milestone.removeprefix(RECEIPT_PREFIX))
    receipt = next((r for r in fold.receipts if r.event_id == event_id), None)
    match = fold.receipt_matches.get(event_id)
    base: dict = dict(milestone=milestone)
    if receipt is not None:
        base |= dict(
            patient_event_id=receipt.event_id,
            patient_answer="yes",
            patient_said_at=receipt.issued_at,
        )
    if match is None or match.payment_event_id is None:
        return Verification(state=VerificationState.clinic_silent, **base)
    payment = next(p for p in fold.payments if p.event_id == match.payment_event_id)
    base |= dict(claim_event_ids=(payment.event_id,), clinic_said_at=payment.occurred_at)
    if match.outcome == "matches":
        return Verification(state=VerificationState.verified, **base)
    return Verification(state=VerificationState.disputed, **base)


def _about_this_booking(fold: ReferralFold, said: PatientSays, claim: ClinicClaimRef) -> bool:
    if said.appointment_id is not None:
        appt = next((a for a in fold.appointments if a.id == said.appointment_id), None)
        return appt is not None and appt.starts_at == claim.appointment_at
    return said.appointment_at is None or said.appointment_at == claim.appointment_at


def _sla_deadline(
    fold: ReferralFold, milestone: str, policy: VerificationPolicy
) -> datetime | None:
    """When silence from the clinic about this milestone becomes `overdue`."""
    if not fold.is_open:
        return None
    if milestone == CONTACTED and fold.sent_at is not None:
        return add_working_time(fold.sent_at, policy.contact_sla, policy.tz, policy.hours)
    if milestone == VISITED:
        appt = fold.current_appointment
        if appt is not None and appt.status == "booked":
            return appt.starts_at + policy.visit_grace
    return None


def next_due(verifications: dict[str, Verification]) -> datetime | None:
    """The earliest moment any state of this referral changes on its own."""
    dues = [v.due_at for v in verifications.values() if v.due_at is not None]
    return min(dues) if dues else None


def patient_denied(v: Verification) -> bool:
    """The patient said it did not happen (e.g. 'nobody called me')."""
    return v.patient_answer == "no"

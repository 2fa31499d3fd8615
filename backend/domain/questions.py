"""Which verification questions the patient should see, and which have gone stale.

A question is a FHIR-Task-like request for one tap ("Did «Clinic» call you?"). The
rules here look at the referral's verification states and the questions already
asked, and say what to ask and what to withdraw; the service writes the rows and the
outbox messages that announce them. Questions for a clinic that stayed silent are asked
when a timer says so (backend.domain.reminders), with `check_question()`. A referral that
ended without completion (closed, declined, transferred) asks only what verifies a fact
its clinic already reported (`ASKED_AFTER_CLOSING`); the rest is withdrawn, and asked
again if the referral is reopened.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import msgspec

from backend.domain.funnel import (
    BOOKED,
    COMPLETED,
    CONTACTED,
    ITEM_PREFIX,
    PLAN,
    VISITED,
    ReferralFold,
)
from backend.domain.verification import Verification, VerificationPolicy, VerificationState


class QuestionKind(StrEnum):
    confirm_contact = "confirm_contact"  # "Did «Clinic» call you on 3 Dec?"
    confirm_booking = "confirm_booking"  # "Are you booked for 5 Dec at 10:00?"
    confirm_visit = "confirm_visit"  # "Did you come to your appointment?"
    confirm_item = "confirm_item"  # "Was the implant at tooth 36 placed?"
    confirm_completed = "confirm_completed"  # "Is your treatment finished?"
    contact_check = "contact_check"  # clinic silent past its SLA: "Has «Clinic» called you?"
    visit_check = "visit_check"  # appointment passed, clinic silent: "Did you go?"
    confirm_plan = "confirm_plan"  # the clinic changed the plan after the patient chose


CONFIRM_KIND = {
    CONTACTED: QuestionKind.confirm_contact,
    BOOKED: QuestionKind.confirm_booking,
    VISITED: QuestionKind.confirm_visit,
    COMPLETED: QuestionKind.confirm_completed,
    PLAN: QuestionKind.confirm_plan,
}


# Questions about something the clinic reports as done, in the past: the patient can still
# answer them once the referral has ended, and the exchange still needs the answer — a
# decline logged without a call, a visit, an item (its money is executed) before the
# patient stopped are the clinic's word alone without it. Every other kind asks about what
# the ending made moot: a booking to come, a plan to agree to, a completion that did not
# come, or the silent clinic's checks (which verify no reported fact).
ASKED_AFTER_CLOSING = frozenset(
    {QuestionKind.confirm_contact, QuestionKind.confirm_visit, QuestionKind.confirm_item}
)


def asked_after_closing(kind: QuestionKind) -> bool:
    """Whether a question of this kind is asked (and stays open) on a closed referral."""
    return kind in ASKED_AFTER_CLOSING


class AskedQuestion(msgspec.Struct, frozen=True, kw_only=True):
    """A question already in the store, as the rules need to see it."""

    id: UUID
    kind: QuestionKind
    milestone: str
    subject: str  # what exactly was asked about: a claim, an appointment
    open: bool
    withdrawn: bool = False  # taken back unanswered (FHIR Task `cancelled`)
    asked_at: datetime | None = None
    expires_at: datetime | None = None


class QuestionSpec(msgspec.Struct, frozen=True, kw_only=True):
    kind: QuestionKind
    milestone: str
    subject: str
    about_at: datetime | None  # the date the question names (call, appointment, visit)
    item_id: UUID | None
    expires_at: datetime
    # The withdrawn question on the same subject, asked again (one question per subject).
    again: UUID | None = None


class QuestionPlan(msgspec.Struct, frozen=True, kw_only=True):
    ask: tuple[QuestionSpec, ...]
    withdraw: tuple[UUID, ...]


_SETTLED = frozenset(
    {VerificationState.verified, VerificationState.disputed, VerificationState.rejected}
)


def plan_questions(
    fold: ReferralFold,
    verifications: dict[str, Verification],
    asked: list[AskedQuestion],
    *,
    now: datetime,
    policy: VerificationPolicy | None = None,
) -> QuestionPlan:
    policy = policy or VerificationPolicy()
    ask: list[QuestionSpec] = []
    withdraw: list[UUID] = []
    # One question per subject. A withdrawn one was never answered: should the same thing
    # await the patient again (the referral reopened, a booking moved back, a retracted
    # claim restored), that question is asked again.
    subjects = {(q.milestone, q.subject) for q in asked if not q.withdrawn}
    withdrawn = {(q.milestone, q.subject): q.id for q in asked if q.withdrawn}
    expires_at = now + policy.answer_window
    closed = fold.is_closed

    for milestone, v in verifications.items():
        open_here = [q for q in asked if q.open and q.milestone == milestone]
        subject = _confirm_subject(v)

        # Withdraw what the answer is no longer needed for, or what asks about the wrong thing.
        for q in open_here:
            # A booking moved, or the plan changed again: the question asks about the past.
            stale_booking = milestone in (BOOKED, PLAN) and q.subject != subject
            is_check = q.kind in (QuestionKind.contact_check, QuestionKind.visit_check)
            check_answered_by_claim = is_check and v.claim_event_ids
            # The clinic took its claim back (a correction): nothing left to confirm.
            claim_taken_back = not is_check and subject is None
            # The referral ended: what verifies no reported fact is no longer asked.
            moot = closed and not asked_after_closing(q.kind)
            if (
                v.state in _SETTLED
                or stale_booking
                or check_answered_by_claim
                or claim_taken_back
                or moot
            ):
                withdraw.append(q.id)
        still_open = [q for q in open_here if q.id not in withdraw]

        if (
            v.state is not VerificationState.awaiting_patient
            or subject is None
            or still_open
            or (milestone, subject) in subjects
        ):
            continue
        kind = _confirm_kind(milestone)
        if closed and not asked_after_closing(kind):
            continue
        ask.append(
            QuestionSpec(
                kind=kind,
                milestone=milestone,
                subject=subject,
                about_at=v.appointment_at if milestone == BOOKED else v.clinic_said_at,
                item_id=_item_id(milestone),
                expires_at=min(v.due_at or expires_at, expires_at),
                again=withdrawn.get((milestone, subject)),
            )
        )
    return QuestionPlan(ask=tuple(ask), withdraw=tuple(withdraw))


def _confirm_subject(v: Verification) -> str | None:
    if not v.claim_event_ids:
        return None
    if v.milestone == BOOKED and v.appointment_at is not None:
        return f"appointment:{v.appointment_at.isoformat()}"
    return f"claim:{max(v.claim_event_ids)}"


def _confirm_kind(milestone: str) -> QuestionKind:
    if milestone.startswith(ITEM_PREFIX):
        return QuestionKind.confirm_item
    return CONFIRM_KIND[milestone]


def _item_id(milestone: str) -> UUID | None:
    return UUID(milestone.removeprefix(ITEM_PREFIX)) if milestone.startswith(ITEM_PREFIX) else None


def check_question(
    fold: ReferralFold,
    kind: QuestionKind,
    *,
    now: datetime,
    policy: VerificationPolicy | None = None,
) -> QuestionSpec | None:
    """The question a silent clinic's timer asks the patient directly (backend.domain.
    reminders decides when): "Has «Clinic» called you?", "Did you go?"."""
    expires_at = now + (policy or VerificationPolicy()).answer_window
    if kind is QuestionKind.contact_check:
        return QuestionSpec(
            kind=kind,
            milestone=CONTACTED,
            subject="contact_check",
            about_at=fold.sent_at,
            item_id=None,
            expires_at=expires_at,
        )
    appt = fold.current_appointment
    if kind is QuestionKind.visit_check and appt is not None:
        return QuestionSpec(
            kind=kind,
            milestone=VISITED,
            subject=f"visit_check:{appt.id}",
            about_at=appt.starts_at,
            item_id=None,
            expires_at=expires_at,
        )
    return None

"""Which verification questions the patient should see, and which have gone stale.

A question is a FHIR-Task-like request for one tap ("Did «Clinic» call you?"). The
rules here look at the referral's verification states and the questions already
asked, and say what to ask and what to withdraw; the service writes the rows and the
outbox messages that announce them. Questions for a clinic that stayed silent are asked
when a timer says so (backend.domain.reminders), with `check_question()`.
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


class AskedQuestion(msgspec.Struct, frozen=True, kw_only=True):
    """A question already in the store, as the rules need to see it."""

    id: UUID
    kind: QuestionKind
    milestone: str
    subject: str  # what exactly was asked about: a claim, an appointment
    open: bool
    asked_at: datetime | None = None
    expires_at: datetime | None = None


class QuestionSpec(msgspec.Struct, frozen=True, kw_only=True):
    kind: QuestionKind
    milestone: str
    subject: str
    about_at: datetime | None  # the date the question names (call, appointment, visit)
    item_id: UUID | None
    expires_at: datetime


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
    subjects = {(q.milestone, q.subject) for q in asked}
    expires_at = now + policy.answer_window

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
            if v.state in _SETTLED or stale_booking or check_answered_by_claim or claim_taken_back:
                withdraw.append(q.id)
        still_open = [q for q in open_here if q.id not in withdraw]

        if (
            v.state is VerificationState.awaiting_patient
            and subject is not None
            and not still_open
            and (milestone, subject) not in subjects
        ):
            ask.append(
                QuestionSpec(
                    kind=_confirm_kind(milestone),
                    milestone=milestone,
                    subject=subject,
                    about_at=v.appointment_at if milestone == BOOKED else v.clinic_said_at,
                    item_id=_item_id(milestone),
                    expires_at=min(v.due_at or expires_at, expires_at),
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

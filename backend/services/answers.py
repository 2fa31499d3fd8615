"""A patient's answer to a verification question: an event, never an overwrite."""

from datetime import date, datetime
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.contact_time import BadCallTime, call_window, call_window_on
from backend.domain.events import Body, PatientAnswer, Source
from backend.domain.funnel import CONTACTED
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.recording import Recorded, Statement, record_locked
from backend.store import parties, questions
from backend.store.engine import write_transaction
from backend.store.rows import LockedReferral


async def when_called(
    patient_id: UUID,
    called_on: Literal["today", "yesterday", "earlier"] | None,
    called_at: datetime | None,
    now: datetime,
    called_day: date | None = None,
    *,
    timezone: str | None = None,
) -> dict:
    """The answer to "when did they call?" as event fields: the words and the span they
    mean in the patient's own zone (backend.domain.contact_time; `timezone`, when the
    caller has read it). The web page's date field gives a calendar day (`called_day`)
    instead of the words or a time."""
    if called_on is None and called_at is None and called_day is None:
        return {}
    if timezone is None:
        patient = await parties.patient(patient_id)
        timezone = patient.timezone if patient else "Europe/Moscow"
    tz = ZoneInfo(timezone)
    try:
        if called_day is not None:
            if called_on is not None or called_at is not None:
                raise BadCallTime("give the day of the call, or called_on or called_at")
            said, after, before = call_window_on(called_day, now, tz)
        else:
            said, after, before = call_window(called_on, called_at, now, tz)
    except BadCallTime as exc:
        raise Invalid(str(exc)) from exc
    return {"called_on": said, "called_after": after, "called_before": before}


async def say(
    patient_id: UUID,
    referral: LockedReferral,
    body: Body,
    now: datetime,
    *,
    key: str | None = None,
    occurred_at: datetime | None = None,
    source: Source = Source.patient_app,
    answering: UUID | None = None,
) -> Recorded:
    """What a patient says, recorded in their name on their locked referral (an answer
    names its question in `answering`). Without a key each saying is its own."""
    [recorded] = await record_locked(
        referral,
        [
            Statement(
                body=body,
                source=source,
                actor=f"patient:{patient_id}",
                idempotency_key=key or f"patient:{new_id()}",
                occurred_at=occurred_at,
            )
        ],
        now,
        answering=answering,
    )
    return recorded


class Answered(msgspec.Struct, frozen=True, kw_only=True):
    recorded: Recorded
    # The patient's language, read with the question, for the reply; None: the patient
    # was erased (read as the profile reads it).
    locale: str | None


async def answer_question(
    *,
    patient_id: UUID,
    question_id: UUID,
    answer: Literal["yes", "no", "unsure"],
    note: str | None = None,
    called_on: Literal["today", "yesterday", "earlier"] | None = None,
    called_at: datetime | None = None,
    called_day: date | None = None,
    source: Source = Source.patient_app,
    now: datetime | None = None,
) -> Answered:
    """Answer one of the patient's own open questions. Another patient's question is
    answered exactly like a missing one. A "yes" to a contact question may say when the
    call came (called_on or called_at). The question, its referral's lock and the
    patient's language and zone are one statement."""
    now = now or utcnow()
    async with write_transaction():
        found = await questions.to_answer(question_id, patient_id)
        if found is None:
            raise NotFound("no such question")
        question, referral = found.question, found.referral
        if question.status == "cancelled":
            raise Conflict("this question was withdrawn: it needs no answer any more")
        if question.status != "requested":
            raise Conflict(f"this question is {question.status}, not open")
        if question.expires_at <= now:
            raise Conflict("this question has expired")
        when = await when_called(
            patient_id, called_on, called_at, now, called_day, timezone=found.patient_timezone
        )
        if when and (question.milestone != CONTACTED or answer != "yes"):
            raise Invalid("called_on and called_at go only with a 'yes' to a contact question")
        body = PatientAnswer(
            question_id=question_id,
            milestone=question.milestone,
            answer=answer,
            appointment_at=question.about_at if question.kind == "confirm_booking" else None,
            note=note,
            **when,
        )
        recorded = await say(
            patient_id,
            referral,
            body,
            now,
            key=f"answer:{question_id}",
            source=source,
            answering=question_id,
        )
        if recorded.duplicate:
            # The question was read before the referral's lock: another answer to it came
            # first (its key is the question's), and it is answered once.
            raise Conflict("this question is completed, not open")
    return Answered(
        recorded=recorded, locale=None if found.patient_erased else found.patient_locale
    )

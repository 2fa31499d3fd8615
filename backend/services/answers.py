"""A patient's answer to a verification question: an event, never an overwrite."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from backend.clock import utcnow
from backend.domain.events import PatientAnswer, Source
from backend.services.errors import Conflict, NotFound
from backend.services.recording import Recorded, Statement, record_locked
from backend.store import questions, referrals
from backend.store.engine import write_transaction


async def answer_question(
    *,
    patient_id: UUID,
    question_id: UUID,
    answer: Literal["yes", "no", "unsure"],
    note: str | None = None,
    source: Source = Source.patient_app,
    now: datetime | None = None,
) -> Recorded:
    """Answer one of the patient's own open questions. Another patient's question is
    answered exactly like a missing one."""
    now = now or utcnow()
    async with write_transaction():
        question = await questions.get(question_id)
        if question is None or question["patient"] != patient_id:
            raise NotFound("no such question")
        if question["status"] != "requested":
            raise Conflict(f"this question is {question['status']}, not open")
        if question["expires_at"] <= now:
            raise Conflict("this question has expired")
        referral = await referrals.lock(question["referral"])
        assert referral is not None
        body = PatientAnswer(
            question_id=question_id,
            milestone=question["milestone"],
            answer=answer,
            appointment_at=question["about_at"] if question["kind"] == "confirm_booking" else None,
            note=note,
        )
        [recorded] = await record_locked(
            referral,
            [
                Statement(
                    body=body,
                    source=source,
                    actor=f"patient:{patient_id}",
                    idempotency_key=f"answer:{question_id}",
                )
            ],
            now,
        )
        await questions.mark_answered(question_id, answer, recorded.event.id, now)
    return recorded

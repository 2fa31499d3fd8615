"""Questions to patients: what was asked, what is open, what was answered."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.domain.questions import AskedQuestion, QuestionKind, QuestionSpec
from backend.store import sql
from backend.store.rows import QuestionRow, typed
from backend.store.tables import Question

ASKED_COLUMNS = ("id", "kind", "milestone", "subject", "status", "asked_at", "expires_at")
ASKED_FOR = f"SELECT {', '.join(ASKED_COLUMNS)} FROM question WHERE referral = {{}}"  # noqa: S608


async def asked_for(referral_id: UUID) -> list[AskedQuestion]:
    return asked_from(await sql.run(ASKED_FOR, referral_id))


def asked_from(rows: list[dict[str, Any]]) -> list[AskedQuestion]:
    """Rows of ASKED_FOR as the domain's asked questions."""
    return [
        AskedQuestion(
            id=r["id"],
            kind=QuestionKind(r["kind"]),
            milestone=r["milestone"],
            subject=r["subject"],
            open=r["status"] == "requested",
            withdrawn=r["status"] == "cancelled",
            asked_at=r["asked_at"],
            expires_at=r["expires_at"],
        )
        for r in rows
    ]


async def insert(
    *, question_id: UUID, referral_id: UUID, patient_id: UUID, spec: QuestionSpec, now: datetime
) -> None:
    await Question.insert(
        Question(
            id=question_id,
            referral=referral_id,
            patient=patient_id,
            kind=spec.kind.value,
            milestone=spec.milestone,
            subject=spec.subject,
            about_at=spec.about_at,
            item_id=spec.item_id,
            status="requested",
            asked_at=now,
            expires_at=spec.expires_at,
        )
    )


async def ask_again(question_id: UUID, spec: QuestionSpec, now: datetime) -> None:
    """A withdrawn question is requested again (the same subject, asked anew from now)."""
    await sql.run(
        "UPDATE question SET status = 'requested', asked_at = {}, expires_at = {}, "
        "about_at = {} WHERE id = {} AND status = 'cancelled'",
        now,
        spec.expires_at,
        spec.about_at,
        question_id,
    )


async def withdraw(question_ids: list[UUID]) -> None:
    if question_ids:
        await Question.update({Question.status: "cancelled"}).where(
            Question.id.is_in(question_ids) & (Question.status == "requested")
        )


async def mark_answered(question_id: UUID, answer: str, event_id: int, at: datetime) -> None:
    await sql.run(
        "UPDATE question SET status = 'completed', answer = {}, answer_event_id = {}, "
        "answered_at = {} WHERE id = {}",
        answer,
        event_id,
        at,
        question_id,
    )


async def get(question_id: UUID) -> QuestionRow | None:
    rows = await sql.run(
        "SELECT id, referral, patient, kind, milestone, subject, about_at, item_id, status, "
        "asked_at, expires_at, answered_at, answer, answer_event_id FROM question WHERE id = {}",
        question_id,
    )
    return typed(rows[0], QuestionRow) if rows else None


async def open_about(patient_id: UUID, referral_id: UUID, now: datetime) -> list[QuestionRow]:
    """A patient's open, unexpired questions about one referral, oldest first."""
    rows = await sql.run(
        "SELECT * FROM question WHERE patient = {} AND referral = {} AND status = 'requested' "
        "AND expires_at > {} ORDER BY asked_at, id",
        patient_id,
        referral_id,
        now,
    )
    return [typed(r, QuestionRow) for r in rows]


async def open_for_patient(
    patient_id: UUID,
    now: datetime,
    *,
    limit: int = 500,
    after: tuple[datetime, UUID] | None = None,
) -> list[QuestionRow]:
    """Open, unexpired questions, oldest first, a page at a time (keyset on asked_at, id)."""
    query = Question.select().where(
        (Question.patient == patient_id)
        & (Question.status == "requested")
        & (Question.expires_at > now)
    )
    if after is not None:
        asked_at, question_id = after
        query = query.where(
            (Question.asked_at > asked_at)
            | ((Question.asked_at == asked_at) & (Question.id > question_id))
        )
    rows = await query.order_by(Question.asked_at).order_by(Question.id).limit(limit)
    return [typed(r, QuestionRow) for r in rows]

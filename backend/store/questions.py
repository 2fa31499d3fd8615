"""Questions to patients: what was asked, what is open, what was answered."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.domain.questions import AskedQuestion, QuestionKind, QuestionSpec
from backend.store import sql
from backend.store.engine import is_postgres
from backend.store.rows import LockedReferral, QuestionRow, QuestionToAnswer, typed
from backend.store.tables import Question

QUESTION_COLUMNS = (
    "id",
    "referral",
    "patient",
    "kind",
    "milestone",
    "subject",
    "about_at",
    "item_id",
    "status",
    "asked_at",
    "expires_at",
    "answered_at",
    "answer",
    "answer_event_id",
)
_GET = f"SELECT {', '.join(QUESTION_COLUMNS)} FROM question WHERE id = {{}}"  # noqa: S608
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


# The question marked answered by the event a WITH named `e` inserts (store.ledger.append).
MARK_ANSWERED_FROM_E = (
    "UPDATE question SET status = 'completed', answer = {}, answer_event_id = e.id, "
    "answered_at = {} FROM e WHERE question.id = {}"
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
    rows = await sql.run(_GET, question_id)
    return typed(rows[0], QuestionRow) if rows else None


# The question, its referral's lock row (as store.referrals.lock reads it) and the
# patient's language and zone, in one statement: an answer's first round trip.
_TO_ANSWER = (
    f"SELECT {', '.join(f'q.{c}' for c in QUESTION_COLUMNS)}, "  # noqa: S608 (names are ours)
    "r.clinic AS r_clinic, r.schedule AS r_schedule, r.fold_state AS r_fold_state, "
    "c.timezone AS r_clinic_timezone, c.first_contact_sla_minutes AS r_clinic_sla_minutes, "
    "COALESCE((SELECT epoch FROM screen_epoch WHERE id = 1), 0) AS r_rules_epoch, "
    "p.locale AS p_locale, p.timezone AS p_timezone, p.erased_at AS p_erased_at "
    "FROM question q JOIN referral r ON r.id = q.referral JOIN clinic c ON c.id = r.clinic "
    "JOIN patient p ON p.id = q.patient WHERE q.id = {} AND q.patient = {}"
)
_TO_ANSWER_FOR_UPDATE = _TO_ANSWER + " FOR UPDATE OF r"


async def to_answer(question_id: UUID, patient_id: UUID) -> QuestionToAnswer | None:
    """The patient's own question with its referral locked until the transaction ends
    (as store.referrals.lock: the row only, on PostgreSQL; SQLite's write transaction
    holds the whole database), in one statement. None for a missing question and for
    another patient's alike: nothing of theirs is read or locked. The question is as
    read before the lock was granted: an answer that came first is caught by its key."""
    rows = await sql.run(
        _TO_ANSWER_FOR_UPDATE if is_postgres() else _TO_ANSWER, question_id, patient_id
    )
    if not rows:
        return None
    row = rows[0]
    referral = {k.removeprefix("r_"): row.pop(k) for k in list(row) if k.startswith("r_")}
    referral["id"], referral["patient"] = row["referral"], row["patient"]
    return QuestionToAnswer(
        question=typed(row, QuestionRow),
        referral=typed(referral, LockedReferral),
        patient_locale=row["p_locale"],
        patient_timezone=row["p_timezone"],
        patient_erased=row["p_erased_at"] is not None,
    )


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

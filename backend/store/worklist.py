"""The queries behind the coordinator's worklist, and the call history (call notes)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.store.rows import (
    BehindPlan,
    CallNoteRow,
    MissedAppointment,
    UnansweredCall,
    WorkPerson,
    json_object,
    typed,
)
from backend.store.tables import Appointment, CallNote, Referral, Verification

OPEN_STEPS = ["sent", "delivered", "unreachable", "contacted", "booked", "visited", "in_treatment"]
PEOPLE = (
    Referral.id,
    Referral.step,
    Referral.sent_at,
    Referral.step_at,
    Referral.closed_reason,
    Referral.patient.name.as_alias("patient_name"),
    Referral.patient.phone.as_alias("patient_phone"),
)


def _people(rows: list[dict[str, Any]]) -> list[WorkPerson]:
    """Rows of PEOPLE as Structs (their step times are JSON text)."""
    return [typed({**r, "step_at": json_object(r["step_at"])}, WorkPerson) for r in rows]


async def uncontacted(clinic_id: UUID, *, limit: int) -> list[WorkPerson]:
    """Open referrals nobody has spoken to yet (an unanswered call does not count)."""
    return _people(
        await Referral.select(*PEOPLE)
        .where(
            (Referral.clinic == clinic_id)
            & Referral.archived_at.is_null()
            & Referral.step.is_in(["sent", "delivered", "unreachable"])
        )
        .order_by(Referral.sent_at)
        .limit(limit)
    )


async def nobody_called(clinic_id: UUID, *, limit: int) -> list[UnansweredCall]:
    """Open referrals whose patient's last word is "nobody called", with no call by the
    clinic recorded since."""
    rows = (
        await Verification.select(
            Verification.referral,
            Verification.patient_said_at,
            Verification.clinic_said_at,
        )
        .where(
            (Verification.milestone == "contacted")
            & (Verification.patient_answer == "no")
            & (Verification.referral.clinic == clinic_id)
            & Verification.referral.step.is_in(OPEN_STEPS)
        )
        .order_by(Verification.patient_said_at)
        .limit(limit)
    )
    found = [typed(r, UnansweredCall) for r in rows]
    return [
        r
        for r in found
        if r.clinic_said_at is None
        or (r.patient_said_at is not None and r.clinic_said_at < r.patient_said_at)
    ]


async def missed_appointments(clinic_id: UUID, *, limit: int) -> list[MissedAppointment]:
    """Open referrals whose latest appointment was missed or cancelled, or that the
    patient declined or asked to move: nobody has booked them again."""
    rows = await Appointment.raw(
        """
        SELECT a.id AS id, a.referral AS referral, a.status AS status,
               a.patient_status AS patient_status, a.starts_at AS starts_at
          FROM appointment a JOIN referral r ON r.id = a.referral
         WHERE r.clinic = {} AND r.archived_at IS NULL AND r.step IN ('booked', 'visited',
               'in_treatment', 'contacted')
           AND (a.status IN ('noshow', 'cancelled')
                OR (a.status = 'booked' AND a.patient_status IN ('declined', 'tentative')))
           AND NOT EXISTS (SELECT 1 FROM appointment b
                            WHERE b.referral = a.referral
                              AND b.booked_event_id > a.booked_event_id)
         ORDER BY a.starts_at
         LIMIT {}
        """,
        clinic_id,
        limit,
    )
    return [typed(r, MissedAppointment) for r in rows]


async def declined(clinic_id: UUID, *, since: datetime, limit: int) -> list[WorkPerson]:
    """Referrals the patient declined on the phone, with a reason, lately."""
    return _people(
        await Referral.select(*PEOPLE)
        .where(
            (Referral.clinic == clinic_id)
            & Referral.archived_at.is_null()
            & (Referral.step == "declined")
            & Referral.closed_reason.is_not_null()
            & (Referral.closed_reason != "")
            & (Referral.updated_at >= since)
        )
        .order_by(Referral.updated_at, ascending=False)
        .limit(limit)
    )


async def behind(clinic_id: UUID, *, limit: int) -> list[BehindPlan]:
    rows = (
        await Referral.select(Referral.id, Referral.expected_finish, Referral.updated_at)
        .where(
            (Referral.clinic == clinic_id)
            & (Referral.schedule == "behind")
            & Referral.archived_at.is_null()
            & Referral.step.is_in(["booked", "visited", "in_treatment"])
        )
        .order_by(Referral.expected_finish)
        .limit(limit)
    )
    return [typed(r, BehindPlan) for r in rows]


async def people(referral_ids: list[UUID]) -> dict[UUID, WorkPerson]:
    if not referral_ids:
        return {}
    rows = await Referral.select(*PEOPLE).where(Referral.id.is_in(referral_ids))
    return {r.id: r for r in _people(rows)}


# --- call notes ------------------------------------------------------------------------


async def add_note(
    *,
    note_id: UUID,
    referral_id: UUID,
    clinic_id: UUID,
    staff_id: UUID,
    outcome: str,
    reason: str,
    note: str,
    callback_at: datetime | None,
    now: datetime,
) -> None:
    await CallNote.insert(
        CallNote(
            id=note_id,
            referral=referral_id,
            clinic=clinic_id,
            staff=staff_id,
            outcome=outcome,
            reason=reason,
            note=note,
            callback_at=callback_at,
            created_at=now,
        )
    )


async def close_callbacks(referral_id: UUID, now: datetime) -> None:
    await CallNote.update({CallNote.callback_done_at: now}).where(
        (CallNote.referral == referral_id)
        & CallNote.callback_at.is_not_null()
        & CallNote.callback_done_at.is_null()
    )


async def open_callbacks(clinic_id: UUID, *, limit: int) -> list[CallNoteRow]:
    rows = (
        await CallNote.select()
        .where(
            (CallNote.clinic == clinic_id)
            & CallNote.callback_at.is_not_null()
            & CallNote.callback_done_at.is_null()
        )
        .order_by(CallNote.callback_at)
        .limit(limit)
    )
    return [typed(r, CallNoteRow) for r in rows]


async def let_go(referral_ids: list[UUID]) -> list[CallNoteRow]:
    if not referral_ids:
        return []
    rows = await CallNote.select().where(
        CallNote.referral.is_in(referral_ids) & (CallNote.outcome == "let_go")
    )
    return [typed(r, CallNoteRow) for r in rows]


async def history(referral_id: UUID, *, limit: int, before: datetime | None) -> list[CallNoteRow]:
    query = CallNote.select().where(CallNote.referral == referral_id)
    if before is not None:
        query = query.where(CallNote.created_at < before)
    rows = await query.order_by(CallNote.created_at, ascending=False).limit(limit)
    return [typed(r, CallNoteRow) for r in rows]

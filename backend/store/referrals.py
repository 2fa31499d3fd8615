"""Referral rows: creation, the row lock a change takes, and the derived columns."""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from backend.domain.funnel import FoldState, ReferralFold
from backend.domain.progress import Progress
from backend.domain.verification import NEEDS_EXCHANGE, Verification, VerificationState, next_due
from backend.store import sql
from backend.store.engine import is_postgres
from backend.store.rows import ClinicCard, LockedReferral, PatientCard, ReferralRow, typed
from backend.store.tables import Referral


async def insert(
    *,
    referral_id: UUID,
    patient_id: UUID,
    clinic_id: UUID,
    invite_code: str,
    sent_at: datetime,
    currency: str,
    now: datetime,
    transferred_from: UUID | None = None,
) -> None:
    await Referral.insert(
        Referral(
            id=referral_id,
            patient=patient_id,
            clinic=clinic_id,
            invite_code=invite_code,
            transferred_from=transferred_from,
            sent_at=sent_at,
            currency=currency,
            created_at=now,
            updated_at=now,
        )
    )


async def lock(referral_id: UUID) -> LockedReferral | None:
    """Read the referral and hold it until the transaction ends, so that two changes to
    one referral fold one after the other. SQLite's write transaction already holds the
    whole database (BEGIN IMMEDIATE); PostgreSQL locks the row — OF referral: a change
    to one referral must not lock its whole clinic."""
    query = _LOCK_FOR_UPDATE if is_postgres() else _LOCK
    rows = await sql.run(query, referral_id)
    return typed(rows[0], LockedReferral) if rows else None


_LOCK = (
    "SELECT r.id, r.clinic, r.patient, r.schedule, r.fold_state, c.timezone AS clinic_timezone, "
    "c.first_contact_sla_minutes AS clinic_sla_minutes, "
    "COALESCE((SELECT epoch FROM screen_epoch WHERE id = 1), 0) AS rules_epoch "
    "FROM referral r JOIN clinic c ON c.id = r.clinic WHERE r.id = {}"
)
_LOCK_FOR_UPDATE = _LOCK + " FOR UPDATE OF r"


def _referral(row: dict[str, Any]) -> ReferralRow:
    """A referral's row as read (its step times are JSON text) as its Struct."""
    if isinstance(row["step_at"], str):
        row = {**row, "step_at": msgspec.json.decode(row["step_at"] or "{}")}
    return typed(row, ReferralRow)


async def get(referral_id: UUID) -> ReferralRow | None:
    rows = await sql.run("SELECT * FROM referral WHERE id = {}", referral_id)
    return _referral(rows[0]) if rows else None


async def with_parties(
    referral_id: UUID,
) -> tuple[ReferralRow, ClinicCard, PatientCard] | None:
    """A referral, its clinic and its patient (name, phone, language, zone, erasure), in
    one statement (what every screen about the referral starts with)."""
    rows = await sql.run(
        "SELECT r.*, c.name AS c_name, c.city AS c_city, c.address AS c_address, "
        "c.phone AS c_phone, c.timezone AS c_timezone, "
        "c.first_contact_sla_minutes AS c_first_contact_sla_minutes, "
        "c.show_prices_to_patients AS c_show_prices, p.locale AS p_locale, p.name AS p_name, "
        "p.timezone AS p_timezone, p.phone AS p_phone, p.erased_at AS p_erased_at "
        "FROM referral r JOIN clinic c ON c.id = r.clinic "
        "JOIN patient p ON p.id = r.patient WHERE r.id = {}",
        referral_id,
    )
    if not rows:
        return None
    row = rows[0]
    clinic = {k.removeprefix("c_"): row.pop(k) for k in list(row) if k.startswith("c_")}
    patient = {k.removeprefix("p_"): row.pop(k) for k in list(row) if k.startswith("p_")}
    clinic["id"], patient["id"] = row["clinic"], row["patient"]
    return _referral(row), typed(clinic, ClinicCard), typed(patient, PatientCard)


async def by_invite_code(code: str) -> ReferralRow | None:
    row = await Referral.select().where(Referral.invite_code == code).first()
    return None if row is None else _referral(row)


# JSON, not msgpack: msgpack's timestamps come back in UTC, and a fold keeps the offsets
# its events were stated in (a question's subject names the appointment as stated).
_state = msgspec.json.Encoder()
_read_state = msgspec.json.Decoder(FoldState)


def decode_state(blob: bytes | None) -> FoldState | None:
    """A stored fold in progress; None when there is none or it is of another shape."""
    if not blob:
        return None
    try:
        return _read_state.decode(blob)
    except msgspec.MsgspecError:  # written by another fold version's shape
        return None


async def save_fold(
    referral_id: UUID,
    state: FoldState,
    fold: ReferralFold,
    verifications: dict[str, Verification],
    progress: Progress,
    now: datetime,
) -> None:
    """The referral's derived columns, and the fold in progress they came from."""
    states = [v.state for v in verifications.values()]
    m = fold.money
    variant = fold.plan.variant if fold.plan else None
    choice = fold.variant_choice
    chosen_by = choice.by if choice is not None and choice.variant == variant else None
    values = {
        "step": fold.step.value,
        "reached": fold.reached.value,
        "step_at": msgspec.json.encode(fold.step_at).decode(),
        "closed_reason": fold.closed_reason,
        "accepted_at": fold.accepted_at,
        "currency": m.currency,
        "estimated_amount": m.estimated,
        "planned_amount": m.planned,
        "accepted_amount": m.accepted,
        "executed_amount": m.executed,
        "paid_amount": m.paid,
        "remaining_amount": m.remaining,
        "lost_amount": m.lost,
        "schedule": progress.schedule.value,
        "expected_finish": progress.expected_finish,
        "disputed_count": sum(s in NEEDS_EXCHANGE for s in states),
        "overdue_count": sum(s is VerificationState.overdue for s in states),
        "verification_due_at": next_due(verifications),
        "chosen_variant": variant,
        "variant_chosen_by": chosen_by,
        "folded_event_id": fold.last_event_id,
        "fold_state": _state.encode(state),
        "updated_at": now,
    }
    await sql.run(
        f"UPDATE referral {sql.update_set(list(values))} WHERE id = {{}}",
        *values.values(),
        referral_id,
    )


async def due_for_reevaluation(now: datetime, limit: int) -> list[UUID]:
    rows = (
        await Referral.select(Referral.id)
        .where(Referral.verification_due_at <= now)
        .order_by(Referral.verification_due_at)
        .limit(limit)
    )
    return [r["id"] for r in rows]


async def count_by_step() -> dict[str, int]:
    rows = await sql.run('SELECT step, COUNT(*) AS n FROM "referral" GROUP BY step ORDER BY step')
    return {r["step"]: r["n"] for r in rows}


async def referral_of_appointment(appointment_id: UUID) -> UUID | None:
    from backend.store.tables import Appointment

    row = (
        await Appointment.select(Appointment.referral)
        .where(Appointment.id == appointment_id)
        .first()
    )
    return row["referral"] if row else None


async def for_patient(
    patient_id: UUID, *, limit: int, before: tuple[datetime, UUID] | None = None
) -> list[ReferralRow]:
    """The patient's referrals, newest first, a page at a time (keyset on sent_at, id)."""
    query = Referral.select().where(
        (Referral.patient == patient_id) & Referral.archived_at.is_null()
    )
    if before is not None:
        sent_at, referral_id = before
        query = query.where(
            (Referral.sent_at < sent_at)
            | ((Referral.sent_at == sent_at) & (Referral.id < referral_id))
        )
    rows = (
        await query.order_by(Referral.sent_at, ascending=False)
        .order_by(Referral.id, ascending=False)
        .limit(limit)
    )
    return [_referral(r) for r in rows]


async def ids_of_patient(patient_id: UUID) -> list[UUID]:
    """Every referral of the patient's, archived or not."""
    rows = await Referral.select(Referral.id).where(Referral.patient == patient_id)
    return [r["id"] for r in rows]


async def ids_to_refold(only_missing_facts: bool, clinic_id: UUID | None = None) -> list[UUID]:
    """Every referral (of one clinic), or those without funnel facts (written before
    facts existed, or emptied by a migration that restates them)."""
    from backend.store.tables import FunnelFact

    query = Referral.select(Referral.id).order_by(Referral.id)
    if clinic_id is not None:
        query = query.where(Referral.clinic == clinic_id)
    if only_missing_facts:
        from backend.store.tables import ConversionPosition

        query = query.where(
            Referral.id.not_in(FunnelFact.select(FunnelFact.referral))
            | Referral.id.not_in(ConversionPosition.select(ConversionPosition.id))
        )
    return [r["id"] for r in await query]

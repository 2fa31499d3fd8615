"""Verification rows: one per (referral, milestone), rewritten from the fold."""

from datetime import datetime
from uuid import UUID

from backend.domain.verification import Verification
from backend.runtime.ids import new_id
from backend.store.rows import StoredVerification, typed
from backend.store.tables import Verification as VerificationRow

_UPDATED = (
    VerificationRow.state,
    VerificationRow.claim_event_id,
    VerificationRow.clinic_said_at,
    VerificationRow.appointment_at,
    VerificationRow.patient_event_id,
    VerificationRow.patient_answer,
    VerificationRow.patient_said_at,
    VerificationRow.resolution_event_id,
    VerificationRow.due_at,
    VerificationRow.updated_at,
)


def _as_stored(v: Verification) -> tuple:
    return (
        v.state.value,
        max(v.claim_event_ids) if v.claim_event_ids else None,
        v.clinic_said_at,
        v.appointment_at,
        v.patient_event_id,
        v.patient_answer,
        v.patient_said_at,
        v.resolution_event_id,
        v.due_at,
    )


async def save_all(
    referral_id: UUID, verifications: dict[str, Verification], now: datetime
) -> None:
    """Upsert the verifications that differ from what is stored (usually one or two)."""
    stored = {
        r["milestone"]: tuple(r[c._meta.name] for c in _UPDATED[:-1])
        for r in await VerificationRow.select(VerificationRow.milestone, *_UPDATED[:-1]).where(
            VerificationRow.referral == referral_id
        )
    }
    changed = [v for m, v in verifications.items() if stored.get(m) != _as_stored(v)]
    if not changed:
        return
    rows = [
        VerificationRow(
            id=new_id(),
            referral=referral_id,
            milestone=v.milestone,
            state=v.state.value,
            claim_event_id=max(v.claim_event_ids) if v.claim_event_ids else None,
            clinic_said_at=v.clinic_said_at,
            appointment_at=v.appointment_at,
            patient_event_id=v.patient_event_id,
            patient_answer=v.patient_answer,
            patient_said_at=v.patient_said_at,
            resolution_event_id=v.resolution_event_id,
            due_at=v.due_at,
            updated_at=now,
        )
        for v in changed
    ]
    await VerificationRow.insert(*rows).on_conflict(
        target=(VerificationRow.referral, VerificationRow.milestone),
        action="DO UPDATE",
        values=_UPDATED,
    )


async def of_referral(referral_id: UUID) -> list[StoredVerification]:
    rows = await VerificationRow.select().where(VerificationRow.referral == referral_id)
    return [typed(r, StoredVerification) for r in rows]


async def count_by_state() -> dict[str, int]:
    rows = await VerificationRow.raw(
        'SELECT state, COUNT(*) AS n FROM "verification" GROUP BY state ORDER BY state'
    )
    return {r["state"]: r["n"] for r in rows}

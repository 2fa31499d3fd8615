"""Verification rows: one per (referral, milestone), rewritten from the fold."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.domain.verification import Verification
from backend.runtime.ids import new_id
from backend.store import sql
from backend.store.rows import StoredVerification, typed
from backend.store.tables import Verification as VerificationRow

# The columns rewritten from the fold, in _as_stored's order (then updated_at).
_UPDATED = (
    "state",
    "claim_event_id",
    "clinic_said_at",
    "appointment_at",
    "patient_event_id",
    "patient_answer",
    "patient_said_at",
    "resolution_event_id",
    "due_at",
)
_COLUMNS = ("id", "referral", "milestone", *_UPDATED, "updated_at")
STORED_COLUMNS = ("milestone", *_UPDATED)
STORED = f"SELECT {', '.join(STORED_COLUMNS)} FROM verification WHERE referral = {{}}"  # noqa: S608


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


def stored_from(rows: list[dict[str, Any]]) -> dict[str, tuple]:
    """Rows of STORED by milestone, comparable with what `save_all` would write."""
    return {r["milestone"]: tuple(r[c] for c in _UPDATED) for r in rows}


async def save_all(
    referral_id: UUID,
    verifications: dict[str, Verification],
    now: datetime,
    stored: dict[str, tuple],
) -> None:
    """Upsert the verifications that differ from what is stored (`stored_from`; usually
    one or two), in one statement."""
    changed = [v for m, v in verifications.items() if stored.get(m) != _as_stored(v)]
    if not changed:
        return
    args: list[object] = []
    for v in changed:
        args += [new_id(), referral_id, v.milestone, *_as_stored(v), now]
    await sql.run(
        sql.insert("verification", _COLUMNS, len(changed))
        + " ON CONFLICT (referral, milestone) DO UPDATE SET "
        + sql.excluded((*_UPDATED, "updated_at")),
        *args,
    )


async def of_referral(referral_id: UUID) -> list[StoredVerification]:
    rows = await VerificationRow.select().where(VerificationRow.referral == referral_id)
    return [typed(r, StoredVerification) for r in rows]


async def count_by_state() -> dict[str, int]:
    rows = await sql.run(
        'SELECT state, COUNT(*) AS n FROM "verification" GROUP BY state ORDER BY state'
    )
    return {r["state"]: r["n"] for r in rows}

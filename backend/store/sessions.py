"""Patient sessions: refresh tokens by their hash, grouped in rotation families."""

from datetime import datetime
from uuid import UUID

from backend.store import sql
from backend.store.rows import SessionRow, typed
from backend.store.tables import PatientSession


async def insert(
    *,
    session_id: UUID,
    family: UUID,
    patient_id: UUID,
    token_hash: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await PatientSession.insert(
        PatientSession(
            id=session_id,
            family=family,
            patient=patient_id,
            token_hash=token_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def by_hash(token_hash: str) -> SessionRow | None:
    row = await PatientSession.select().where(PatientSession.token_hash == token_hash).first()
    return None if row is None else typed(row, SessionRow)


async def mark_used(session_id: UUID, now: datetime) -> bool:
    """True if this call used it (a concurrent refresh with the same token loses)."""
    rows = await PatientSession.raw(
        'UPDATE "patient_session" SET "used_at" = {} '
        'WHERE "id" = {} AND "used_at" IS NULL AND "revoked_at" IS NULL RETURNING "id"',
        now,
        session_id,
    )
    return bool(rows)


async def revoke_family(family: UUID, now: datetime) -> None:
    await PatientSession.update({PatientSession.revoked_at: now}).where(
        (PatientSession.family == family) & PatientSession.revoked_at.is_null()
    )


async def family_live(family: UUID, patient_id: UUID) -> bool:
    """True if this family was issued to this patient and is not revoked. Asked on every
    patient request: one plain statement on the family index."""
    rows = await sql.run(
        'SELECT COUNT(*) AS "issued", COUNT("revoked_at") AS "revoked" FROM "patient_session" '
        'WHERE "family" = {} AND "patient" = {}',
        family,
        patient_id,
    )
    return rows[0]["issued"] > 0 and rows[0]["revoked"] == 0

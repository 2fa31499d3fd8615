"""Staff sessions by token hash."""

from datetime import datetime
from uuid import UUID

from backend.store.rows import StaffSessionRow, typed
from backend.store.tables import StaffSession, StaffUser


async def insert(
    *,
    session_id: UUID,
    staff_id: UUID,
    token_hash: str,
    now: datetime,
    expires_at: datetime,
    ip: str,
    user_agent: str,
) -> None:
    await StaffSession.insert(
        StaffSession(
            id=session_id,
            staff=staff_id,
            token_hash=token_hash,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            ip=ip,
            user_agent=user_agent,
        )
    )


async def with_staff(token_hash: str) -> StaffSessionRow | None:
    """The session and its staff member in one plain statement (this runs on every staff
    request)."""
    rows = await StaffSession.raw(
        "SELECT s.id, s.last_seen_at, s.expires_at, s.revoked_at, u.id AS staff_id, "
        "u.email, u.name, u.role, u.clinic AS clinic_id, u.archived_at AS staff_archived_at "
        "FROM staff_session s JOIN staff_user u ON u.id = s.staff WHERE s.token_hash = {}",
        token_hash,
    )
    return typed(rows[0], StaffSessionRow) if rows else None


async def touch(session_id: UUID, now: datetime) -> None:
    await StaffSession.update({StaffSession.last_seen_at: now}).where(StaffSession.id == session_id)


async def revoke(session_id: UUID, now: datetime) -> None:
    await StaffSession.update({StaffSession.revoked_at: now}).where(
        (StaffSession.id == session_id) & StaffSession.revoked_at.is_null()
    )


async def set_totp_secret(staff_id: UUID, secret: str) -> None:
    await StaffUser.update({StaffUser.totp_secret: secret}).where(StaffUser.id == staff_id)


async def use_totp_step(staff_id: UUID, step: int, now: datetime, confirm: bool) -> bool:
    """Record that this TOTP time step was used; False if it (or a later one) already was."""
    rows = await StaffUser.raw(
        'UPDATE "staff_user" SET "totp_last_step" = {}, "last_login_at" = {}, '
        '"totp_confirmed_at" = COALESCE("totp_confirmed_at", {}) '
        'WHERE "id" = {} AND ("totp_last_step" IS NULL OR "totp_last_step" < {}) RETURNING "id"',
        step,
        now,
        now if confirm else None,
        staff_id,
        step,
    )
    return bool(rows)

"""Staff sessions by token hash."""

from datetime import datetime
from typing import Any
from uuid import UUID

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


async def with_staff(token_hash: str) -> dict[str, Any] | None:
    """The session and its staff member in one query (this runs on every staff request)."""
    return (
        await StaffSession.select(
            StaffSession.id,
            StaffSession.last_seen_at,
            StaffSession.expires_at,
            StaffSession.revoked_at,
            StaffSession.staff.id.as_alias("staff_id"),
            StaffSession.staff.email.as_alias("email"),
            StaffSession.staff.name.as_alias("name"),
            StaffSession.staff.role.as_alias("role"),
            StaffSession.staff.clinic.as_alias("clinic_id"),
            StaffSession.staff.archived_at.as_alias("staff_archived_at"),
        )
        .where(StaffSession.token_hash == token_hash)
        .first()
    )


async def touch(session_id: UUID, now: datetime) -> None:
    await StaffSession.update({StaffSession.last_seen_at: now}).where(StaffSession.id == session_id)


async def revoke(session_id: UUID, now: datetime) -> None:
    await StaffSession.update({StaffSession.revoked_at: now}).where(
        (StaffSession.id == session_id) & StaffSession.revoked_at.is_null()
    )


async def set_totp(staff_id: UUID, values: dict[str, Any]) -> None:
    await StaffUser.update({getattr(StaffUser, k): v for k, v in values.items()}).where(
        StaffUser.id == staff_id
    )


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

"""Staff accounts as the exchange manages them: listed, changed, never deleted."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.store.rows import StaffAccountRow, typed
from backend.store.tables import StaffSession, StaffUser

COLUMNS = (
    StaffUser.id,
    StaffUser.email,
    StaffUser.name,
    StaffUser.role,
    StaffUser.clinic,
    StaffUser.clinic.name.as_alias("clinic_name"),
    StaffUser.totp_confirmed_at,
    StaffUser.created_at,
    StaffUser.last_login_at,
    StaffUser.archived_at,
)


async def page(
    *,
    clinic_id: UUID | None,
    role: str | None,
    archived: bool | None,
    after_email: str | None,
    limit: int,
) -> list[StaffAccountRow]:
    """By e-mail; `archived` None: active and deactivated alike."""
    query = StaffUser.select(*COLUMNS)
    if clinic_id is not None:
        query = query.where(StaffUser.clinic == clinic_id)
    if role is not None:
        query = query.where(StaffUser.role == role)
    if archived is True:
        query = query.where(StaffUser.archived_at.is_not_null())
    elif archived is False:
        query = query.where(StaffUser.archived_at.is_null())
    if after_email is not None:
        query = query.where(StaffUser.email > after_email)
    return [typed(r, StaffAccountRow) for r in await query.order_by(StaffUser.email).limit(limit)]


async def get(staff_id: UUID) -> StaffAccountRow | None:
    row = await StaffUser.select(*COLUMNS).where(StaffUser.id == staff_id).first()
    return None if row is None else typed(row, StaffAccountRow)


async def update(staff_id: UUID, values: dict[str, Any]) -> None:
    await StaffUser.update({getattr(StaffUser, k): v for k, v in values.items()}).where(
        StaffUser.id == staff_id
    )


async def end_sessions(staff_id: UUID, now: datetime) -> int:
    """Every live session of the person ends now."""
    rows = await StaffSession.raw(
        'UPDATE "staff_session" SET "revoked_at" = {} '
        'WHERE "staff" = {} AND "revoked_at" IS NULL RETURNING "id"',
        now,
        staff_id,
    )
    return len(rows)

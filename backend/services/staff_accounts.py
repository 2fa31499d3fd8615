"""Staff accounts after they are made: deactivated and reactivated, a new password, a new
authenticator, another role. Each change ends the person's sessions at once and is
written to the audit log with who did it; nothing is deleted."""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from backend.domain.roles import Role, needs_clinic
from backend.runtime.clock import utcnow
from backend.services.audit import Viewer, saw
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.staff import MIN_PASSWORD_LENGTH, NewStaff, add_staff, hash_password
from backend.services.staff_auth import new_totp_secret, provisioning_uri
from backend.store import parties
from backend.store import staff_accounts as store
from backend.store.engine import write_transaction
from backend.store.rows import StaffAccountRow


class StaffAccount(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    email: str
    name: str
    role: Role
    clinic_id: UUID | None
    clinic_name: str | None
    authenticator_set: bool
    created_at: datetime
    last_login_at: datetime | None
    active: bool
    deactivated_at: datetime | None


def account(row: StaffAccountRow) -> StaffAccount:
    return msgspec.convert(
        {
            **msgspec.structs.asdict(row),
            "clinic_id": row.clinic,
            "authenticator_set": row.totp_confirmed_at is not None,
            "active": row.archived_at is None,
            "deactivated_at": row.archived_at,
        },
        StaffAccount,
    )


async def list_accounts(
    *,
    clinic_id: UUID | None = None,
    role: Role | None = None,
    archived: bool | None = None,
    after_email: str | None = None,
    limit: int,
) -> list[StaffAccount]:
    rows = await store.page(
        clinic_id=clinic_id,
        role=role.value if role else None,
        archived=archived,
        after_email=after_email,
        limit=limit,
    )
    return [account(r) for r in rows]


async def create(
    viewer: Viewer,
    *,
    email: str,
    role: Role,
    password: str,
    clinic_id: UUID | None,
    name: str = "",
) -> NewStaff:
    """A new account (services.staff.add_staff), written to the audit log."""
    made = await add_staff(
        email=email, role=role, password=password, clinic_id=clinic_id, name=name
    )
    await saw(
        viewer,
        action="staff_created",
        object_kind="staff",
        object_id=str(made.staff_id),
        details={"email": made.email, "role": role.value, "clinic_id": str(clinic_id or "")},
    )
    return made


async def _change(
    viewer: Viewer, staff_id: UUID, action: str, values: dict[str, Any], details: dict
) -> StaffAccount:
    now = utcnow()
    async with write_transaction():
        before = await store.get(staff_id)
        if before is None:
            raise NotFound("no such staff account")
        if values:
            await store.update(staff_id, values)
        ended = await store.end_sessions(staff_id, now)
        await saw(
            viewer,
            action=action,
            object_kind="staff",
            object_id=str(staff_id),
            details={"email": before.email, "sessions_ended": ended, **details},
        )
    after = await store.get(staff_id)
    assert after is not None
    return account(after)


def _not_self(viewer: Viewer, staff_id: UUID, what: str) -> None:
    if viewer.principal.staff_id == staff_id:
        raise Conflict(f"you cannot {what} your own account; ask another operator")


async def deactivate(viewer: Viewer, staff_id: UUID) -> StaffAccount:
    """The person cannot sign in, and every session of theirs ends now."""
    _not_self(viewer, staff_id, "deactivate")
    return await _change(viewer, staff_id, "staff_deactivated", {"archived_at": utcnow()}, {})


async def reactivate(viewer: Viewer, staff_id: UUID) -> StaffAccount:
    return await _change(viewer, staff_id, "staff_reactivated", {"archived_at": None}, {})


async def reset_password(viewer: Viewer, staff_id: UUID, password: str) -> StaffAccount:
    """A new password (handed over by the operator); the old one and every session end."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    return await _change(
        viewer, staff_id, "staff_password_reset", {"password_hash": hash_password(password)}, {}
    )


class Enrolment(msgspec.Struct, frozen=True, kw_only=True):
    account: StaffAccount
    totp_uri: str  # shown once: the new authenticator's key


async def reset_authenticator(viewer: Viewer, staff_id: UUID) -> Enrolment:
    """A new authenticator key: the old app's codes stop working; the person enrols the
    new one from the QR (shown once here, and at their next sign-in until confirmed)."""
    secret = new_totp_secret()
    changed = await _change(
        viewer,
        staff_id,
        "staff_authenticator_reset",
        {"totp_secret": secret, "totp_confirmed_at": None, "totp_last_step": None},
        {},
    )
    return Enrolment(account=changed, totp_uri=provisioning_uri(secret, changed.email))


async def change_role(
    viewer: Viewer, staff_id: UUID, role: Role, clinic_id: UUID | None
) -> StaffAccount:
    if needs_clinic(role) and clinic_id is None:
        raise Invalid(f"a {role} belongs to a clinic: give clinic_id")
    if not needs_clinic(role) and clinic_id is not None:
        raise Invalid(f"a {role} works for the exchange, not for a clinic")
    if clinic_id is not None:
        clinic = await parties.clinic(clinic_id)
        if clinic is None or clinic.archived_at is not None:
            raise NotFound("no such clinic")
    _not_self(viewer, staff_id, "change the role of")
    before = await store.get(staff_id)
    if before is None:
        raise NotFound("no such staff account")
    return await _change(
        viewer,
        staff_id,
        "staff_role_changed",
        {"role": role.value, "clinic": clinic_id},
        {
            "from": {"role": before.role, "clinic_id": str(before.clinic or "")},
            "to": {"role": role.value, "clinic_id": str(clinic_id or "")},
        },
    )

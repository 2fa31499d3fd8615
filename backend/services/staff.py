"""Staff accounts: created with an argon2id password hash, a role and, for clinic
roles, their clinic."""

from uuid import UUID

import msgspec
from argon2 import PasswordHasher

from backend.domain.roles import Role, needs_clinic
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.staff_auth import new_totp_secret, provisioning_uri
from backend.store import parties
from backend.store.engine import write_transaction

# argon2-cffi's defaults are RFC 9106's second recommended option (argon2id,
# t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 12


class NewStaff(msgspec.Struct, frozen=True, kw_only=True):
    staff_id: UUID
    email: str
    role: Role
    clinic_id: UUID | None
    # Shown once, to set up the authenticator app; the secret is not shown again.
    totp_uri: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def add_staff(
    *, email: str, role: Role, password: str, clinic_id: UUID | None = None, name: str = ""
) -> NewStaff:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise Invalid("email: not an e-mail address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if needs_clinic(role) and clinic_id is None:
        raise Invalid(f"a {role} belongs to a clinic: give --clinic")
    if not needs_clinic(role) and clinic_id is not None:
        raise Invalid(f"a {role} works for the exchange, not for a clinic")
    password_hash = hash_password(password)
    totp_secret = new_totp_secret()
    async with write_transaction():
        if clinic_id is not None and await parties.clinic(clinic_id) is None:
            raise NotFound("no such clinic")
        if await parties.staff_by_email(email) is not None:
            raise Conflict(f"{email} already has an account")
        staff_id = new_id()
        await parties.insert_staff(
            staff_id=staff_id,
            email=email,
            name=name,
            role=role.value,
            clinic_id=clinic_id,
            password_hash=password_hash,
            totp_secret=totp_secret,
            now=utcnow(),
        )
    return NewStaff(
        staff_id=staff_id,
        email=email,
        role=role,
        clinic_id=clinic_id,
        totp_uri=provisioning_uri(totp_secret, email),
    )

"""Staff sign-in: argon2id password, TOTP second factor, short sessions.

Failed sign-ins are counted per account and per address in fixed 15-minute windows
(shared across processes); five either way and that account or address waits for the
window to pass — never longer, so nobody can lock a colleague out for good. A TOTP
code works once: its time step is remembered. Sessions end after 15 idle minutes.
"""

import hashlib
import io
import secrets
from datetime import datetime, timedelta
from functools import cache
from uuid import UUID

import msgspec
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services.errors import NotAuthenticated, TooManyAttempts
from backend.store import parties, staff_sessions, throttle
from backend.store.engine import write_transaction

IDLE = timedelta(minutes=15)
LONGEST = timedelta(hours=12)
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute
ISSUER = "plantrack"

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the e-mail is unknown, so both answers take the same time. Made on
    the first sign-in, not at import: hashing takes argon2's 64 MB for a moment, which
    every web worker would reach at start."""
    return _hasher.hash(secrets.token_hex(16))


class StaffPrincipal(msgspec.Struct, frozen=True, kw_only=True):
    staff_id: UUID
    session_id: UUID
    email: str
    name: str
    role: Role
    clinic_id: UUID | None

    @property
    def actor(self) -> str:
        return f"staff:{self.staff_id}"


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    principal: StaffPrincipal
    expires_at: datetime


class EnrolmentNeeded(Exception):
    """Password right, TOTP not set up yet: show the QR to scan, then ask for a code."""

    def __init__(self, provisioning_uri: str) -> None:
        super().__init__("scan the QR code in an authenticator app, then enter its code")
        self.provisioning_uri = provisioning_uri


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(text: str) -> str:
    # Imported on the first QR code (setting up an authenticator): qrcode brings Pillow,
    # which every web worker would carry otherwise.
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step this code belongs to (now ±1 step for clock drift), or None."""
    totp = pyotp.TOTP(secret)
    code = "".join(ch for ch in code if ch.isdigit())
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=drift * totp.interval)
        if secrets.compare_digest(totp.at(at), code):
            return int(at.timestamp()) // totp.interval
    return None


async def _refuse(keys: list[str], now: datetime) -> NotAuthenticated:
    async with write_transaction():
        for key in keys:
            await throttle.hit(key, window=WINDOW, now=now)
    return NotAuthenticated("wrong e-mail, password or code")


async def sign_in(
    *,
    email: str,
    password: str,
    totp: str,
    ip: str,
    user_agent: str = "",
    now: datetime | None = None,
) -> SignedIn:
    now = now or utcnow()
    email = email.strip().lower()
    keys = [f"login:account:{email}", f"login:address:{ip}"]
    for key in keys:
        if await throttle.current(key, window=WINDOW, now=now) >= MAX_FAILURES:
            raise TooManyAttempts(
                "too many failed sign-ins; try again in 15 minutes",
                retry_after=int(WINDOW.total_seconds()),
            )
    dummy = _dummy_hash()  # before the look-up: the first sign-in pays for it either way
    staff = await parties.staff_by_email(email)
    try:
        _hasher.verify(staff.password_hash if staff else dummy, password)
        password_ok = staff is not None and staff.archived_at is None
    except (VerificationError, InvalidHashError):
        password_ok = False
    if not password_ok:
        raise await _refuse(keys, now)
    assert staff is not None
    secret = staff.totp_secret
    if not secret:  # an account made before TOTP existed: give it a secret now
        secret = new_totp_secret()
        await staff_sessions.set_totp_secret(staff.id, secret)
    step = _totp_step(secret, totp, now) if totp else None
    if step is None and staff.totp_confirmed_at is None:
        raise EnrolmentNeeded(provisioning_uri(secret, email))
    if step is None:
        raise await _refuse(keys, now)
    async with write_transaction():
        if not await staff_sessions.use_totp_step(
            staff.id, step, now, confirm=staff.totp_confirmed_at is None
        ):
            replayed = True
        else:
            replayed = False
            await throttle.clear(keys[0])
            token = secrets.token_urlsafe(32)
            session_id = new_id()
            await staff_sessions.insert(
                session_id=session_id,
                staff_id=staff.id,
                token_hash=_hash(token),
                now=now,
                expires_at=now + LONGEST,
                ip=ip,
                user_agent=user_agent[:200],
            )
    if replayed:
        raise await _refuse(keys, now)
    return SignedIn(
        token=token,
        principal=StaffPrincipal(
            staff_id=staff.id,
            session_id=session_id,
            email=email,
            name=staff.name,
            role=Role(staff.role),
            clinic_id=staff.clinic,
        ),
        expires_at=now + LONGEST,
    )


async def session(token: str, now: datetime | None = None) -> StaffPrincipal:
    """The staff member behind a session token; refuses ended, idle or archived ones."""
    now = now or utcnow()
    row = await staff_sessions.with_staff(_hash(token))
    if row is None or row.revoked_at is not None or row.staff_archived_at is not None:
        raise NotAuthenticated("sign in again")
    if row.expires_at <= now or row.last_seen_at + IDLE <= now:
        raise NotAuthenticated("the session ended after 15 idle minutes; sign in again")
    if now - row.last_seen_at >= TOUCH_EVERY:
        await staff_sessions.touch(row.id, now)
    return StaffPrincipal(
        staff_id=row.staff_id,
        session_id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        clinic_id=row.clinic_id,
    )


async def sign_out(principal: StaffPrincipal, now: datetime | None = None) -> None:
    await staff_sessions.revoke(principal.session_id, now or utcnow())

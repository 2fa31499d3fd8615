"""Patient sign-in with a Firebase ID token, and our sessions: rotate, reuse, log out.

A refresh token is 256 random bits shown once and stored as its SHA-256. Each refresh
uses it up and issues the next in the same family; presenting a used token again means
two parties hold it, so the whole family is revoked and both must sign in again.
"""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from backend.auth.firebase import FirebaseIdentity
from backend.auth.tokens import PATIENT_AUDIENCE, KeyRing, issue_access
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services.errors import Forbidden, NotAuthenticated
from backend.services.phones import BadPhone, normalise_phone
from backend.settings import Settings
from backend.store import parties, referrals, sessions
from backend.store.engine import write_transaction

log = logging.getLogger("plantrack.auth")


class TokenPair(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int  # seconds
    refresh_token: str
    refresh_expires_in: int
    patient_id: UUID


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue(
    ring: KeyRing, settings: Settings, patient_id: UUID, family: UUID, now: datetime
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    refresh_ttl = timedelta(days=settings.refresh_token_days)
    access_ttl = timedelta(minutes=settings.access_token_minutes)
    await sessions.insert(
        session_id=new_id(),
        family=family,
        patient_id=patient_id,
        token_hash=_hash(refresh),
        now=now,
        expires_at=now + refresh_ttl,
    )
    access = issue_access(
        ring,
        subject=patient_id,
        session=family,
        role="patient",
        audience=PATIENT_AUDIENCE,
        ttl=access_ttl,
        now=now,
    )
    return TokenPair(
        access_token=access,
        expires_in=int(access_ttl.total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=int(refresh_ttl.total_seconds()),
        patient_id=patient_id,
    )


async def sign_in_patient(
    identity: FirebaseIdentity,
    *,
    invite_code: str | None,
    ring: KeyRing,
    settings: Settings,
    now: datetime | None = None,
) -> TokenPair:
    """The phone number Firebase verified must be the phone the exchange referred."""
    now = now or utcnow()
    if not identity.phone:
        raise Forbidden("sign in with a phone number: this account has none")
    try:
        phone = normalise_phone(identity.phone)
    except BadPhone as exc:
        raise Forbidden("the account's phone number is not usable") from exc

    async with write_transaction():
        if invite_code:
            referral = await referrals.by_invite_code(invite_code.strip().upper())
            if referral is None:
                raise Forbidden("this invite code is not valid")
            patient = await parties.patient(referral.patient)
            if patient is None or patient.phone != phone:
                raise Forbidden("this invite was sent to another phone number")
        else:
            patient = await parties.patient_by_phone(phone)
            if patient is None:
                raise Forbidden("no referral has been sent for this phone number")
        if patient.archived_at is not None or patient.erased_at is not None:
            raise Forbidden("this account is closed")
        if patient.firebase_uid != identity.uid:
            if patient.firebase_uid is not None:
                log.info(
                    "patient re-linked to a new Firebase account",
                    extra={"fields": {"patient_id": str(patient.id)}},
                )
            other = await parties.patient_by_firebase_uid(identity.uid)
            if other is not None and other.id != patient.id:
                raise Forbidden("this Firebase account belongs to another patient")
            await parties.update_patient(patient.id, {"firebase_uid": identity.uid})
        return await _issue(ring, settings, patient.id, new_id(), now)


async def refresh_session(
    refresh_token: str, *, ring: KeyRing, settings: Settings, now: datetime | None = None
) -> TokenPair:
    now = now or utcnow()
    async with write_transaction():
        row = await sessions.by_hash(_hash(refresh_token))
        if row is None:
            raise NotAuthenticated("unknown refresh token")
        if row.revoked_at is not None:
            raise NotAuthenticated("this session has ended; sign in again")
        if row.expires_at <= now:
            raise NotAuthenticated("refresh token expired; sign in again")
        if row.used_at is None and await sessions.mark_used(row.id, now):
            return await _issue(ring, settings, row.patient, row.family, now)
        # Used before: someone else holds a copy. End the family, commit, then refuse.
        await sessions.revoke_family(row.family, now)
    log.warning(
        "refresh token reused; session family revoked",
        extra={"fields": {"patient_id": str(row.patient)}},
    )
    raise NotAuthenticated("refresh token already used; sign in again")


async def log_out(*, family: UUID, now: datetime | None = None) -> None:
    async with write_transaction():
        await sessions.revoke_family(family, now or utcnow())


async def session_live(family: UUID, patient_id: UUID) -> bool:
    # A token whose session was never issued to its subject is refused too: a leaked
    # signing key alone should not open any patient's data.
    return await sessions.family_live(family, patient_id)

"""A patient's personal link (`/p/{token}`) and the proof of the phone behind it.

A link opens the web page of one referral (patient_web/): its questions, its
appointment, the contact rating. The token is 128 bits of HMAC over the link's id with
the server's secret, so it can be written into an SMS again without being stored; the
database keeps only its SHA-256. A link works until revoked, while its referral is open
and for a while after (backend.domain.sms.link_works); a wrong, revoked or expired one
is answered exactly like one that never existed.

The whole plan is shown only to a browser that proved the phone: a six-digit code sent
by SMS to the referred number (ten minutes, works once, stored as an HMAC; five wrong
codes in 15 minutes, then a wait; three codes sent per 15 minutes) opens a session for
30 days, kept as the SHA-256 of an opaque cookie. The patient can end it, here or
everywhere; erasure ends them all.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from backend.domain.funnel import CLOSURES, Step
from backend.domain.sms import link_works
from backend.runtime.ids import new_id
from backend.services.errors import Invalid, NotFound, TooManyAttempts
from backend.store import parties, patient_links, throttle
from backend.store.engine import write_transaction
from backend.store.rows import WebSessionRow

TOKEN_CHARS = 22  # 16 bytes of base64url: 128 bits
CODE_TTL = timedelta(minutes=10)
MAX_WRONG = 5
WRONG_WINDOW = timedelta(minutes=15)
MAX_CODES_SENT = 3
CODES_WINDOW = timedelta(minutes=15)
SESSION_TTL = timedelta(days=30)
_ENDED = frozenset(CLOSURES | {Step.completed})


class LinkAccess(msgspec.Struct, frozen=True, kw_only=True):
    """What a working link grants: one referral of one patient."""

    link_id: UUID
    referral_id: UUID
    patient_id: UUID
    question_id: UUID | None
    locale: str


def _key(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), b"plantrack:" + purpose, hashlib.sha256).digest()


def token_of(secret: str, link_id: UUID) -> str:
    digest = hmac.new(_key(secret, b"patient-link"), link_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TOKEN_CHARS]


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def link_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/p/{token}"


def _ended_at(step: str, step_at: dict[str, datetime]) -> datetime | None:
    """When a referral that is over ended (its closing step's time), else None."""
    return step_at.get(step) if step in _ENDED else None


async def mint(
    *,
    secret: str,
    referral_id: UUID,
    patient_id: UUID,
    question_id: UUID | None,
    now: datetime,
) -> tuple[UUID, str]:
    """A new link to a referral's page (opening at `question_id`, if given)."""
    link_id = new_id()
    token = token_of(secret, link_id)
    await patient_links.insert_link(
        link_id=link_id,
        referral_id=referral_id,
        patient_id=patient_id,
        question_id=question_id,
        token_hash=_sha256(token),
        now=now,
    )
    return link_id, token


async def printable_link(
    *, secret: str, referral_id: UUID, patient_id: UUID, now: datetime
) -> str | None:
    """The token of the referral's page for the patient's printed plan: its live page
    link reused, or a new one. None — nothing printed — for a referral that is over
    (closed or completed) or archived, and for one whose links were revoked with none
    issued since (a leaked link is not brought back on paper: the next SMS carries a
    new one)."""
    from backend.store import referrals

    async with write_transaction():
        referral = await referrals.get(referral_id)
        if (
            referral is None
            or referral.patient != patient_id
            or referral.archived_at is not None
            or referral.step in _ENDED
        ):
            return None
        live = await patient_links.live_page_link(referral_id)
        if live is not None:
            return token_of(secret, live.id)
        if await patient_links.any_revoked(referral_id):
            return None
        _, token = await mint(
            secret=secret, referral_id=referral_id, patient_id=patient_id, question_id=None, now=now
        )
        return token


async def open_link(token: str, now: datetime) -> LinkAccess:
    """The referral a token opens. Malformed, unknown, revoked, expired, erased or
    archived: NotFound, all alike."""
    if len(token) != TOKEN_CHARS or not token.isascii():
        raise NotFound("no such page")
    row = await patient_links.link_by_hash(_sha256(token))
    if (
        row is None
        or row.erased_at is not None
        or row.referral_archived_at is not None
        or not link_works(
            ended_at=_ended_at(row.step, row.step_at),
            revoked_at=row.revoked_at,
            now=now,
        )
    ):
        raise NotFound("no such page")
    return LinkAccess(
        link_id=row.id,
        referral_id=row.referral,
        patient_id=row.patient,
        question_id=row.question,
        locale=row.locale if row.locale in ("ru", "en") else "ru",
    )


class Revoked(msgspec.Struct, frozen=True, kw_only=True):
    links: int


async def revoke(referral_id: UUID, now: datetime) -> Revoked:
    """End every link to a referral (one leaked, or sent to the wrong person). An SMS
    sent later carries a new link."""
    async with write_transaction():
        if await patient_links.referral_owner(referral_id) is None:
            raise NotFound("no such referral")
        return Revoked(links=await patient_links.revoke_links(referral_id=referral_id, now=now))


# --- proving the phone ---------------------------------------------------------------------


def code_of(secret: str, code_id: UUID) -> str:
    """The six digits of a code, derived from its id: the SMS is written when it goes
    out, and nothing but the HMAC below is stored."""
    digest = hmac.new(_key(secret, b"sms-code"), code_id.bytes, hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def _code_hash(secret: str, referral_id: UUID, code: str) -> str:
    return hmac.new(
        _key(secret, b"sms-code-check"), f"{referral_id}:{code}".encode(), hashlib.sha256
    ).hexdigest()


async def issue_code(access: LinkAccess, *, secret: str, now: datetime) -> UUID:
    """A new sign-in code for the link's referral, in the caller's transaction (its SMS
    is queued there too: backend.services.sms.request_code): at most three per 15
    minutes. Only its HMAC is stored; the digits are derived from the id (`code_of`)."""
    key = f"sms-code-sent:{access.referral_id}"
    if await throttle.current(key, window=CODES_WINDOW, now=now) >= MAX_CODES_SENT:
        raise TooManyAttempts(
            "codes were sent a moment ago; wait for them, or try again in 15 minutes",
            retry_after=int(CODES_WINDOW.total_seconds()),
        )
    code_id = new_id()
    await patient_links.insert_code(
        code_id=code_id,
        referral_id=access.referral_id,
        patient_id=access.patient_id,
        code_hash=_code_hash(secret, access.referral_id, code_of(secret, code_id)),
        now=now,
        expires_at=now + CODE_TTL,
    )
    await throttle.hit(key, window=CODES_WINDOW, now=now)
    return code_id


class Proved(msgspec.Struct, frozen=True, kw_only=True):
    cookie: str  # the session token, for the browser only
    expires_at: datetime


async def prove(access: LinkAccess, code: str, *, secret: str, now: datetime) -> Proved:
    """A right code opens a session for this browser; wrong ones are counted per referral."""
    key = f"sms-code:{access.referral_id}"
    digits = "".join(ch for ch in code if ch.isdigit())[:6]
    async with write_transaction():
        if await throttle.current(key, window=WRONG_WINDOW, now=now) >= MAX_WRONG:
            raise TooManyAttempts(
                "too many wrong codes; try again in 15 minutes",
                retry_after=int(WRONG_WINDOW.total_seconds()),
            )
        given = _code_hash(secret, access.referral_id, digits)
        match = next(
            (
                c
                for c in await patient_links.live_codes(access.referral_id, now)
                if hmac.compare_digest(c.code_hash, given)
            ),
            None,
        )
        if match is not None and await patient_links.use_code(match.id, now):
            cookie = secrets.token_urlsafe(32)
            await patient_links.insert_session(
                session_id=new_id(),
                patient_id=access.patient_id,
                token_hash=_sha256(cookie),
                now=now,
                expires_at=now + SESSION_TTL,
            )
            return Proved(cookie=cookie, expires_at=now + SESSION_TTL)
        # A wrong code is counted and committed; only then is it refused.
        await throttle.hit(key, window=WRONG_WINDOW, now=now)
    raise Invalid("this code is not right or has expired")


async def session(access: LinkAccess, cookie: str | None, now: datetime) -> WebSessionRow | None:
    """The live session a browser's cookie names, if it is this link's patient's."""
    if not cookie or len(cookie) > 100:
        return None
    row = await patient_links.session_by_hash(_sha256(cookie))
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= now
        or row.patient != access.patient_id
    ):
        return None
    return row


async def sign_out(
    access: LinkAccess, cookie: str | None, *, everywhere: bool, now: datetime
) -> int:
    """End this browser's session, or every browser's of this patient."""
    async with write_transaction():
        row = await session(access, cookie, now)
        if everywhere:
            return await patient_links.end_sessions(access.patient_id, now)
        if row is not None:
            await patient_links.end_session(row.id, now)
            return 1
    return 0


async def forget_patient(patient_id: UUID, now: datetime) -> dict[str, int]:
    """Erasure's part here, in the caller's transaction: links revoked, codes ended,
    browser sessions ended, and none of their hashes kept."""
    ended = {
        "links": await patient_links.revoke_links(patient_id=patient_id, now=now),
        "codes": await patient_links.expire_codes(patient_id, now),
        "web_sessions": await patient_links.end_sessions(patient_id, now),
    }
    await patient_links.drop_hashes(patient_id)
    return ended


async def latest_link(phone: str, *, secret: str, public_url: str, now: datetime) -> str | None:
    """A new link to the patient's latest referral whose page still opens (open, or over
    for less than the links' grace): a development tool, patients get theirs by SMS. None
    when the phone has no such referral."""
    from backend.store import referrals

    patient = await parties.patient_by_phone(phone)
    if patient is None:
        return None
    live = [
        r
        for r in await referrals.for_patient(patient.id, limit=50)
        if link_works(ended_at=_ended_at(r.step, r.step_at), revoked_at=None, now=now)
    ]
    if not live:
        return None
    latest = live[0]
    async with write_transaction():
        _, token = await mint(
            secret=secret,
            referral_id=latest.id,
            patient_id=patient.id,
            question_id=None,
            now=now,
        )
    return link_url(public_url, token)


async def phone_hint(access: LinkAccess) -> str:
    """The link's phone as +7 916 ***-**-67: enough to recognise one's own number on the
    sign-in page, too little to learn someone else's."""
    patient = await parties.patient(access.patient_id)
    phone = patient.phone if patient else ""
    if not phone:
        return ""
    if len(phone) < 8 or not phone.startswith("+7"):
        return "***" + phone[-2:]
    return f"+7 {phone[2:5]} ***-**-{phone[-2:]}"

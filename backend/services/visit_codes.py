"""Visit codes: strong evidence of a visit, signed by both sides (docs/domain.md, "Verification").

At reception the clinic's panel shows a six-digit code (and its QR); the patient types
or scans it in the app. A right code records `visit_cosigned` — the clinic's claim and
the patient's confirmation in one event. Codes live 30 minutes and work once; wrong
guesses are limited per referral in 15-minute windows, so guessing a million codes is
out of reach while the patient is never locked out for long.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from backend.domain.events import Source, VisitCosigned
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services.errors import Invalid, NotFound, TooManyAttempts
from backend.services.recording import Recorded, Statement, record_locked
from backend.store import referrals, throttle, visit_codes
from backend.store.engine import write_transaction

CODE_TTL = timedelta(minutes=30)
MAX_WRONG = 5
WINDOW = timedelta(minutes=15)


class IssuedCode(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    expires_at: datetime


def _hash(secret: str, referral_id: UUID, code: str) -> str:
    key = hmac.new(secret.encode(), b"plantrack:visit-code", hashlib.sha256).digest()
    return hmac.new(key, f"{referral_id}:{code}".encode(), hashlib.sha256).hexdigest()


async def issue_code(
    referral_id: UUID, *, secret: str, issued_by: str, now: datetime | None = None
) -> IssuedCode:
    now = now or utcnow()
    code = f"{secrets.randbelow(1_000_000):06d}"
    async with write_transaction():
        if await referrals.get(referral_id) is None:
            raise NotFound("no such referral")
        await visit_codes.insert(
            code_id=new_id(),
            referral_id=referral_id,
            code_hash=_hash(secret, referral_id, code),
            created_by=issued_by,
            now=now,
            expires_at=now + CODE_TTL,
        )
    return IssuedCode(code=code, expires_at=now + CODE_TTL)


async def redeem_code(
    patient_id: UUID, referral_id: UUID, code: str, *, secret: str, now: datetime | None = None
) -> Recorded:
    now = now or utcnow()
    key = f"visit-code:{referral_id}"
    code = "".join(ch for ch in code if ch.isdigit())
    async with write_transaction():
        referral = await referrals.lock(referral_id)
        if referral is None or referral.patient != patient_id:
            raise NotFound("no such referral")
        if await throttle.current(key, window=WINDOW, now=now) >= MAX_WRONG:
            raise TooManyAttempts(
                "too many wrong codes; try again in a few minutes",
                retry_after=int(WINDOW.total_seconds()),
            )
        given = _hash(secret, referral_id, code)
        match = next(
            (
                c
                for c in await visit_codes.live_for(referral_id, now)
                if hmac.compare_digest(c.code_hash, given)
            ),
            None,
        )
        if match is not None and await visit_codes.use(match.id, now):
            # The code is spent and the visit recorded together, or neither.
            [recorded] = await record_locked(
                referral,
                [
                    Statement(
                        body=VisitCosigned(code_id=match.id),
                        source=Source.patient_app,
                        actor=f"patient:{patient_id}",
                        idempotency_key=f"visit-code:{match.id}",
                    )
                ],
                now,
            )
            return recorded
        # A wrong guess is counted and committed; only then is the request refused.
        await throttle.hit(key, window=WINDOW, now=now)
    raise Invalid("this code is not right or has expired")

"""Our access tokens: JWTs signed with HS256 (pinned), with a key id for rotation.

Verification accepts only HS256 — `none` and public-key algorithms are refused before
a key is even chosen — requires exp, iat, sub, aud and iss, and picks the key by the
token's `kid` from the configured ring; an unknown kid is an invalid token.
"""

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
import msgspec

from backend.settings import Settings

ISSUER = "plantrack"
PATIENT_AUDIENCE = "plantrack:patient-app"
ALGORITHM = "HS256"
LEEWAY = timedelta(seconds=30)


class InvalidToken(Exception):
    """Any reason a token is not acceptable; the message is safe to show."""


# Tokens this process has verified, each with its claims: an app sends the same token
# until it expires, and PyJWT's checks (pure Python, character by character) cost a
# third of a plan screen's read. Kept per ring, which lives as long as the process.
VERIFIED_KEPT = 5_000  # about 3 MB


class AccessClaims(msgspec.Struct, frozen=True):
    subject: UUID
    session: UUID
    role: str
    expires_at: datetime


class KeyRing(msgspec.Struct, frozen=True):
    signing_kid: str
    keys: dict[str, bytes]
    # (token, audience) → its claims, verified under these keys; expiry is still checked
    # against the clock on every use.
    verified: dict[tuple[str, str], AccessClaims] = {}


def key_ring(settings: Settings) -> KeyRing:
    if settings.jwt_keys:
        pairs = [p.split(":", 1) for p in settings.jwt_keys.split(",") if p.strip()]
        if not pairs or any(len(p) != 2 or len(p[1]) < 32 for p in pairs):
            raise ValueError("PLANTRACK_JWT_KEYS: 'kid:secret' pairs, secrets of 32+ characters")
        return KeyRing(
            signing_kid=pairs[0][0].strip(), keys={k.strip(): s.encode() for k, s in pairs}
        )
    # One key derived from the secret key, named by a fingerprint of itself.
    key = hmac.new(settings.secret_key.encode(), b"plantrack:jwt", hashlib.sha256).digest()
    kid = hashlib.sha256(key).hexdigest()[:12]
    return KeyRing(signing_kid=kid, keys={kid: key})


def issue_access(
    ring: KeyRing,
    *,
    subject: UUID,
    session: UUID,
    role: str,
    audience: str,
    ttl: timedelta,
    now: datetime,
) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": audience,
        "sub": str(subject),
        "sid": str(session),
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(
        claims,
        ring.keys[ring.signing_kid],
        algorithm=ALGORITHM,
        headers={"kid": ring.signing_kid},
    )


def read_access(ring: KeyRing, token: str, *, audience: str, now: datetime) -> AccessClaims:
    claims = ring.verified.get((token, audience))
    if claims is None:
        claims = _verify(ring, token, audience, now)
        if len(ring.verified) >= VERIFIED_KEPT:
            del ring.verified[next(iter(ring.verified))]  # the oldest kept
        ring.verified[(token, audience)] = claims
    if claims.expires_at < now - LEEWAY:
        raise InvalidToken("token expired")
    return claims


def _verify(ring: KeyRing, token: str, audience: str, now: datetime) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("unexpected signing algorithm")
    key = ring.keys.get(str(header.get("kid", "")))
    if key is None:
        raise InvalidToken("unknown signing key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            leeway=LEEWAY,
            # Expiry is checked below against our clock (`now`), not PyJWT's own.
            options={
                "require": ["exp", "iat", "sub", "aud", "iss"],
                "verify_iat": False,
                "verify_exp": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken("invalid token") from exc
    if not isinstance(claims["exp"], int | float) or claims["exp"] < (now - LEEWAY).timestamp():
        raise InvalidToken("token expired")
    try:
        return AccessClaims(
            subject=UUID(claims["sub"]),
            session=UUID(claims["sid"]),
            role=str(claims["role"]),
            expires_at=datetime.fromtimestamp(claims["exp"], tz=now.tzinfo),
        )
    except (KeyError, ValueError) as exc:
        raise InvalidToken("invalid token claims") from exc

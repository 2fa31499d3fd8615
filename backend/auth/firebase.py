"""Firebase ID tokens: the RS256 signature against Google's published certificates, and
the claims firebase-admin checks.

Why not `firebase_admin.auth.verify_id_token`: it needs Google credentials to build its
client although a signature check needs only the public certificates (without them,
every sign-in was a 500 `DefaultCredentialsError`), it fetches the certificates in a
blocking thread that waits 120 s for a hanging endpoint, and its certificate URL cannot
be changed. So the certificates come from `GoogleCertificates` below (asynchronous, one
fetch at a time, kept for their Cache-Control max-age, a few seconds' timeout; an
outage is 503, never a 401), and the token is checked with PyJWT, the library our own
tokens use, against every rule firebase-admin applies (`_JWTVerifier.verify`): a `kid`
that is published, `alg` RS256 and nothing else, `aud` the project, `iss`
`https://securetoken.google.com/<project>`, `sub` a non-empty string of at most 128
characters, `exp` and `iat` present and valid, and (as Firebase's documentation asks,
beyond the SDK) `auth_time` not in the future.

With FIREBASE_AUTH_EMULATOR_HOST set (tests, `make run`), tokens are the emulator's
unsigned ones: the same claim checks, no signature and no clock (as the SDK does in
emulator mode). Production refuses to start with it set (backend.settings).
"""

import asyncio
import logging
import re
import time
from typing import Any

import httpx
import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.x509 import load_pem_x509_certificate

log = logging.getLogger("plantrack.auth")

# Google's certificates for Firebase ID tokens (securetoken), as x509 PEM by key id.
GOOGLE_CERTS_URL = (
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
)
ISSUER_PREFIX = "https://securetoken.google.com/"
# The whole fetch (connect, send, read), so a hanging endpoint is a 503 in seconds.
FETCH_TIMEOUT_S = 3.0
# After a failed fetch, sign-ins are answered 503 at once for this long (and asked to
# come back after it) instead of each waiting out another timeout.
RETRY_AFTER_S = 5
# Certificates sent without a max-age are kept this long.
DEFAULT_MAX_AGE_S = 60
# Certificates past their max-age still verify tokens signed by their keys while Google's
# endpoint cannot be reached, for at most this long: Google publishes a key well before
# it signs with it and keeps it published after, so an outage of minutes must not stop
# every sign-in. A token naming a key not among them is a 503 then, not a 401.
STALE_GRACE_S = 6 * 3600
# Clock differences between Google's servers and ours.
LEEWAY_S = 30
MAX_SUBJECT = 128


class FirebaseIdentity(msgspec.Struct, frozen=True):
    uid: str
    phone: str | None


class InvalidFirebaseToken(Exception):
    """The token is not a valid ID token of our project: 401, with the reason."""


class FirebaseUnavailable(Exception):
    """Google's certificates cannot be had right now: 503 with Retry-After, never 401."""

    retry_after = RETRY_AFTER_S


class GoogleCertificates:
    """Google's public keys by `kid`, fetched at most once per their max-age."""

    def __init__(
        self, url: str, *, timeout: float = FETCH_TIMEOUT_S, retry_after: float = RETRY_AFTER_S
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retry_after = retry_after
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self.keys: dict[str, RSAPublicKey] = {}
        self.fetched_at = 0.0  # monotonic; 0: never
        self.fresh_until = 0.0
        self.refused_until = 0.0
        self.fetching: asyncio.Future[None] | None = None

    async def key(self, kid: str) -> RSAPublicKey:
        now = time.monotonic()
        if now >= self.fresh_until:
            await self._refresh(now)
        found = self.keys.get(kid)
        if found is None:
            if time.monotonic() >= self.fresh_until:  # stale: the key may be a new one
                raise FirebaseUnavailable("Google's certificates could not be refreshed")
            raise InvalidFirebaseToken("the token's key id is not one Google publishes")
        return found

    async def _refresh(self, now: float) -> None:
        if now < self.refused_until:
            self._stale_or_raise(now)
            return
        # One fetch at a time: every sign-in waiting for certificates shares it.
        if self.fetching is None:
            self.fetching = asyncio.ensure_future(self._fetch())
            self.fetching.add_done_callback(self._fetched)
        try:
            await asyncio.shield(self.fetching)
        except FirebaseUnavailable:
            self._stale_or_raise(time.monotonic())

    def _fetched(self, done: asyncio.Future[None]) -> None:
        self.fetching = None
        if not done.cancelled():
            done.exception()  # retrieved here: the waiters may all have gone

    def _stale_or_raise(self, now: float) -> None:
        if self.keys and now - self.fresh_until < STALE_GRACE_S:
            return
        raise FirebaseUnavailable("Google's certificates could not be fetched")

    async def _fetch(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.get(self.url)
            response.raise_for_status()
            published = msgspec.json.decode(response.content, type=dict[str, str])
            keys = {kid: _public_key(pem) for kid, pem in published.items()}
            if not keys:
                raise ValueError("no certificates published")
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            self.refused_until = time.monotonic() + self.retry_after
            log.warning(
                "firebase certificates unavailable",
                extra={"fields": {"error": type(exc).__name__, "url": self.url}},
            )
            raise FirebaseUnavailable(str(exc)) from exc
        now = time.monotonic()
        self.keys, self.fetched_at = keys, now
        self.fresh_until = now + _max_age(response.headers)

    async def aclose(self) -> None:
        await self.client.aclose()


def _public_key(pem: str) -> RSAPublicKey:
    key = load_pem_x509_certificate(pem.encode()).public_key()
    if not isinstance(key, RSAPublicKey):
        raise ValueError("not an RSA certificate")
    return key


def _max_age(headers: httpx.Headers) -> float:
    """Seconds the certificates may be kept: Cache-Control max-age less Age."""
    found = re.search(r"max-age=(\d+)", headers.get("cache-control", ""))
    if not found:
        return DEFAULT_MAX_AGE_S
    age = headers.get("age", "0")
    return max(0, int(found.group(1)) - (int(age) if age.isdigit() else 0))


class FirebaseVerifier:
    """Checks patients' Firebase ID tokens; one per server process (its certificate
    cache and HTTP client live on the app's event loop)."""

    def __init__(
        self,
        project_id: str,
        *,
        certs_url: str = GOOGLE_CERTS_URL,
        emulator: bool = False,
        timeout: float = FETCH_TIMEOUT_S,
    ) -> None:
        self.project_id = project_id
        self.issuer = ISSUER_PREFIX + project_id
        self.emulator = emulator
        self.certificates = GoogleCertificates(certs_url, timeout=timeout)

    async def verify(self, id_token: str) -> FirebaseIdentity:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise InvalidFirebaseToken("not a JWT") from exc
        if self.emulator:
            claims = self._unsigned_claims(id_token)
        else:
            claims = await self._signed_claims(id_token, header)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT:
            raise InvalidFirebaseToken("the token has no usable sub (subject) claim")
        phone = claims.get("phone_number")
        return FirebaseIdentity(uid=subject, phone=phone if isinstance(phone, str) else None)

    async def _signed_claims(self, id_token: str, header: dict[str, Any]) -> dict[str, Any]:
        # The algorithm is pinned before any key is looked at (no `none`, no HS256 with a
        # public key as the secret).
        if header.get("alg") != "RS256":
            raise InvalidFirebaseToken(f"the token is signed with {header.get('alg')!r}, not RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidFirebaseToken("the token has no kid (key id)")
        key = await self.certificates.key(kid)
        try:
            claims = jwt.decode(
                id_token,
                key,
                algorithms=["RS256"],
                audience=self.project_id,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "aud", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidFirebaseToken("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidFirebaseToken("the token is issued in the future") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidFirebaseToken("the token is for another Firebase project (aud)") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidFirebaseToken("the token has another issuer (iss)") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidFirebaseToken(f"the token has no {exc.claim} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidFirebaseToken("the token's signature is not valid") from exc
        except jwt.PyJWTError as exc:
            raise InvalidFirebaseToken(f"the token is not valid: {exc}") from exc
        auth_time = claims.get("auth_time")
        if isinstance(auth_time, int | float) and auth_time > time.time() + LEEWAY_S:
            raise InvalidFirebaseToken("the token's auth_time is in the future")
        return claims

    def _unsigned_claims(self, id_token: str) -> dict[str, Any]:
        """The emulator's token: what firebase-admin checks in emulator mode."""
        try:
            claims = jwt.decode(id_token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidFirebaseToken("not a JWT") from exc
        if claims.get("aud") != self.project_id:
            raise InvalidFirebaseToken("the token is for another Firebase project (aud)")
        if claims.get("iss") != self.issuer:
            raise InvalidFirebaseToken("the token has another issuer (iss)")
        return claims

    async def aclose(self) -> None:
        await self.certificates.aclose()

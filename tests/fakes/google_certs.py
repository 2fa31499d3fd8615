"""Google's securetoken certificates, published from loopback, and Firebase ID tokens
signed with local RSA keys: the production sign-in path without the internet.

Google publishes `{kid: x509 PEM}` at a fixed URL with `Cache-Control: public,
max-age=N, must-revalidate, no-transform` and signs ID tokens RS256 with the key named by
the header's `kid`; this fake does the same with keys made here. `fetches` counts the
certificate downloads.
"""

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.fakes.server import Running, lifespan, respond

PATH = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"


@dataclass
class SigningKey:
    """An RSA key and the self-signed certificate Google would publish for it."""

    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def cert_pem(self) -> str:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.system")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=2))
            .sign(self.private, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """RS256 with this key; a header field given as None is left out."""
        fields = {k: v for k, v in {"kid": self.kid, **header}.items() if v is not None}
        return jwt.encode(claims, self.private, algorithm="RS256", headers=fields)


def id_token_claims(
    project_id: str, *, uid: str, phone: str | None, now: datetime | None = None, **changes: Any
) -> dict[str, Any]:
    """The claims of a Firebase phone sign-in's ID token, as Google issues them."""
    issued = int((now or datetime.now(UTC)).timestamp())
    claims: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project_id}",
        "aud": project_id,
        "auth_time": issued,
        "user_id": uid,
        "sub": uid,
        "iat": issued,
        "exp": issued + 3600,
        "firebase": {"identities": {"phone": [phone]}, "sign_in_provider": "phone"},
    }
    if phone:
        claims["phone_number"] = phone
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@dataclass
class FakeGoogleCerts:
    published: dict[str, str] = field(default_factory=dict)  # kid → PEM
    max_age: int = 3600
    status: int = 200
    fetches: int = 0
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def publish(self, *keys: SigningKey) -> None:
        self.published = {key.kid: key.cert_pem for key in keys}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        with self.lock:
            self.fetches += 1
        if self.status != 200:
            await respond(send, self.status, {"error": "backend error"})
            return
        cache = f"public, max-age={self.max_age}, must-revalidate, no-transform"
        await respond(send, 200, self.published, headers={"cache-control": cache})


def running(fake: FakeGoogleCerts | None = None) -> Running[FakeGoogleCerts]:
    return Running(fake or FakeGoogleCerts())

"""Forged and tampered patient access tokens, over HTTP: each is a 401 and nothing else.

The unit tests check `read_access` alone; these send each forgery to a real route, so a
route that skipped the check, or a guard that accepted a second algorithm, would show.
Staff sessions are opaque random tokens (hashed in the database), not JWTs.
"""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from backend.auth.tokens import PATIENT_AUDIENCE, key_ring
from backend.runtime.clock import utcnow
from tests.factories import make_clinic, make_referral
from tests.http.app_with import app_with
from tests.http.patient_client import sign_in
from tests.http.problems import assert_problem

PHONE = "+79161110022"
# The HS512 forgery uses our 32-byte key on purpose; PyJWT warns about its length.
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is")


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def hs256_by_hand(claims: dict, kid: str, secret: bytes) -> str:
    """PyJWT will not sign with a PEM key as an HMAC secret; an attacker's script will."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def forgeries(genuine: str, key: bytes) -> dict[str, str]:
    """Tokens an attacker could build from a token they hold (and, for some, our key)."""
    claims, kid = claims_of(genuine), kid_of(genuine)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(utcnow().timestamp())

    def signed(changes: dict, *, headers: dict | None = None, with_key: bytes = key) -> str:
        return jwt.encode(
            {**claims, **changes}, with_key, algorithm="HS256", headers=headers or {"kid": kid}
        )

    without_sid = {k: v for k, v in claims.items() if k != "sid"}
    return {
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": kid}),
        # The classic confusion: a public key used as an HMAC secret by a lax verifier.
        "HS256 keyed with a public key": hs256_by_hand(claims, kid, rsa_public_pem),
        "RS256 by another key": jwt.encode(
            claims, rsa_key, algorithm="RS256", headers={"kid": kid}
        ),
        "ES256 by another key": jwt.encode(
            claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid}
        ),
        "HS512 with our key": jwt.encode(claims, key, algorithm="HS512", headers={"kid": kid}),
        "HS256 with a guessed key": signed({}, with_key=b"secret" * 8),
        "unknown kid": signed({}, headers={"kid": "someone-elses"}),
        "no kid": jwt.encode(claims, key, algorithm="HS256"),
        "expired": signed({"iat": now - 7200, "exp": now - 3600}),
        "no expiry": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"},
            key,
            algorithm="HS256",
            headers={"kid": kid},
        ),
        "staff audience": signed({"aud": "plantrack:staff"}),
        "other issuer": signed({"iss": "evil.example"}),
        "another subject": signed({"sub": "00000000-0000-0000-0000-000000000001"}),
        "session never issued": signed({"sid": "00000000-0000-0000-0000-000000000002"}),
        "no session": jwt.encode(without_sid, key, algorithm="HS256", headers={"kid": kid}),
        "signature cut": genuine.rsplit(".", 1)[0] + ".",
        "garbage": "not.a.jwt",
    }


async def test_every_forged_token_is_refused_on_every_kind_of_patient_route(client, db):
    sent = await make_referral(await make_clinic(), phone=PHONE)
    me = await sign_in(client, PHONE)
    ring = key_ring(db)
    key = ring.keys[kid_of(me.access)]
    routes = [
        ("GET", "/api/v1/me"),
        ("GET", f"/api/v1/me/referrals/{sent.referral_id}"),
        ("GET", "/api/v1/me/questions"),
        ("POST", "/api/v1/auth/logout"),
    ]
    # The genuine token works on each read (logout last would end it; it is not asked).
    for method, path in routes[:3]:
        ok = await client.request(method, path, headers=me.headers)
        assert ok.status_code == 200, (path, ok.text)
    tried = 0
    for name, token in forgeries(me.access, key).items():
        for method, path in routes:
            answer = await client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}
            )
            assert_problem(answer, 401, name, path)
            tried += 1
    assert tried == 17 * len(routes)
    # None of them ended or changed the genuine session.
    assert (await client.get("/api/v1/me", headers=me.headers)).status_code == 200


async def test_keys_rotate_by_kid_over_http(db):
    """A token signed with the previous key is accepted while that key is in the ring,
    and refused once it is retired; new tokens are signed with the first key."""
    old_ring = "k-old:" + "o" * 40
    new_ring = "k-new:" + "n" * 40
    await make_referral(await make_clinic(), phone=PHONE)

    async def with_keys(keys: str, token: str | None = None) -> tuple[int, str]:
        async with app_with(db, jwt_keys=keys) as c:
            if token is None:
                token = (await sign_in(c, PHONE)).access
            answer = await c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            return answer.status_code, token

    status, old_token = await with_keys(old_ring)
    assert status == 200 and kid_of(old_token) == "k-old"
    # Rotation: the new key signs, the old one still verifies.
    assert (await with_keys(f"{new_ring},{old_ring}", old_token))[0] == 200
    status, new_token = await with_keys(f"{new_ring},{old_ring}")
    assert status == 200 and kid_of(new_token) == "k-new"
    # Retired: the old key is gone from the ring.
    assert (await with_keys(new_ring, old_token))[0] == 401
    assert (await with_keys(new_ring, new_token))[0] == 200


async def test_an_expired_token_is_refused_but_refresh_still_works(client, db):
    await make_referral(await make_clinic(), phone=PHONE)
    me = await sign_in(client, PHONE)
    ring = key_ring(db)
    kid = kid_of(me.access)
    claims = claims_of(me.access)
    past = int((utcnow() - timedelta(hours=2)).timestamp())
    stale = jwt.encode(
        {**claims, "iat": past, "exp": past + 600}, ring.keys[kid], "HS256", headers={"kid": kid}
    )
    answer = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {stale}"})
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    fresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": me.refresh})
    assert fresh.status_code == 200
    assert claims_of(fresh.json()["access_token"])["aud"] == PATIENT_AUDIENCE

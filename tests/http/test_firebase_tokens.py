"""The production sign-in path: Firebase ID tokens signed RS256 and checked against
Google's published certificates, served here from loopback and signed with local keys.

Every other test signs in through the emulator's unsigned tokens; these run with
FIREBASE_AUTH_EMULATOR_HOST unset and no Google credentials at all, as a deployment
without FCM would. A genuine token signs in; each forgery is a 401 with its reason; a
new key is taken up without a restart; the certificates are fetched once per their
max-age; and when Google's endpoint is down, drops the connection or hangs, sign-in says
503 with Retry-After within seconds — never a 401 (the token may be good), never a 500.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.auth.firebase import FETCH_TIMEOUT_S, RETRY_AFTER_S
from backend.settings import Settings
from backend.store.tables import Patient
from tests.factories import make_clinic, make_referral
from tests.fakes import google_certs
from tests.fakes.google_certs import FakeGoogleCerts, SigningKey, id_token_claims
from tests.fakes.link import Link
from tests.http.app_with import app_with

PROJECT = "plantrack-prod-test"
PHONE = "+79161118899"
SIGN_IN = "/api/v1/auth/patient"
KEY_A, KEY_B, STRANGER = SigningKey("key-a"), SigningKey("key-b"), SigningKey("key-a")


@pytest.fixture
def google() -> Iterator[tuple[FakeGoogleCerts, Link]]:
    """Google's certificate endpoint (key A published), behind a link that can fail."""
    with google_certs.running() as fake, Link(fake.port) as link:
        fake.publish(KEY_A)
        yield fake, link


@pytest.fixture
async def app(
    db: Settings, google: tuple[FakeGoogleCerts, Link], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """The app as production runs it: no emulator, no Google credentials."""
    for name in ("FIREBASE_AUTH_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    _, link = google
    async with app_with(
        db,
        firebase_auth_emulator_host=None,
        fcm_credentials=None,
        firebase_project_id=PROJECT,
        firebase_certs_url=link.url + google_certs.PATH,
    ) as client:
        yield client


def token(key: SigningKey = KEY_A, phone: str | None = PHONE, **changes) -> str:
    return key.sign(id_token_claims(PROJECT, uid="firebase-uid-1", phone=phone, **changes))


async def sign_in(client: httpx.AsyncClient, id_token: str) -> httpx.Response:
    return await client.post(SIGN_IN, json={"firebase_id_token": id_token})


@pytest.fixture
async def referred(db: Settings) -> None:
    await make_referral(await make_clinic(), phone=PHONE)


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned(**header) -> str:
    """alg none: a header, the claims, and no signature."""
    claims = id_token_claims(PROJECT, uid="firebase-uid-1", phone=PHONE)
    return f"{_b64({'typ': 'JWT', **header})}.{_b64(claims)}."


def hs256_with_the_certificate() -> str:
    """HS256 keyed with the published certificate (what a verifier that let the token
    choose its algorithm would accept); PyJWT refuses to sign so, an attacker does not."""
    claims = id_token_claims(PROJECT, uid="firebase-uid-1", phone=PHONE)
    signing = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': KEY_A.kid})}.{_b64(claims)}"
    mac = hmac.new(KEY_A.cert_pem.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(mac)}"


def tampered() -> str:
    """A genuine token of another phone with this phone written into its claims."""
    header, _, signature = token(phone="+79990000001").split(".")
    claims = id_token_claims(PROJECT, uid="firebase-uid-1", phone=PHONE)
    return f"{header}.{_b64(claims)}.{signature}"


def now() -> datetime:
    # Read when the token is made, not when the module is collected: a full run reaches
    # these cases many minutes after collection, when "ten minutes ahead" is past.
    return datetime.now(UTC)


FORGERIES = {  # what is forged → (the token, the reason the answer gives)
    "another key, a published kid": (lambda: token(STRANGER), "signature is not valid"),
    "a kid Google does not publish": (lambda: token(KEY_B), "key id is not one Google"),
    "no kid": (
        lambda: KEY_A.sign(id_token_claims(PROJECT, uid="u", phone=PHONE), kid=None),
        "no kid",
    ),
    "alg none": (lambda: unsigned(alg="none", kid=KEY_A.kid), "signed with 'none'"),
    "HS256 keyed with the certificate": (hs256_with_the_certificate, "signed with 'HS256'"),
    "another project (aud)": (lambda: token(aud="someone-elses-project"), "(aud)"),
    "another issuer (iss)": (
        lambda: token(iss="https://securetoken.google.com/someone-else"),
        "(iss)",
    ),
    "expired": (lambda: token(now=now() - timedelta(hours=2)), "expired"),
    "issued in the future": (lambda: token(now=now() + timedelta(minutes=10)), "in the future"),
    "signed in in the future (auth_time)": (
        lambda: token(auth_time=int((now() + timedelta(minutes=10)).timestamp())),
        "auth_time is in the future",
    ),
    "no sub": (lambda: token(sub=None), "no sub claim"),
    "an empty sub": (lambda: token(sub=""), "no usable sub"),
    "a sub over 128 characters": (lambda: token(sub="u" * 129), "no usable sub"),
    "no exp": (lambda: token(exp=None), "no exp claim"),
    "no iat": (lambda: token(iat=None), "no iat claim"),
    "claims changed after signing (another phone)": (tampered, "signature is not valid"),
    "not a JWT": (lambda: "this-is-not-a-jwt-at-all", "not a JWT"),
}


async def test_a_genuine_token_signs_in_without_emulator_or_credentials(app, google, referred):
    fake, _ = google
    answer = await sign_in(app, token())
    assert answer.status_code == 200, answer.text
    patient = await Patient.select(Patient.firebase_uid).first()
    assert patient == {"firebase_uid": "firebase-uid-1"}
    assert fake.fetches == 1


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_token_is_refused_with_401(app, google, referred, forgery):
    forged, reason = FORGERIES[forgery]
    answer = await sign_in(app, forged())
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith("Firebase ID token rejected: ")
    assert reason in answer.json()["detail"]
    assert await Patient.select(Patient.firebase_uid).first() == {"firebase_uid": None}


async def test_a_genuine_token_without_a_phone_is_refused_with_the_reason(app, referred):
    answer = await sign_in(app, token(phone=None))
    assert answer.status_code == 403, answer.text
    assert "phone number" in answer.json()["detail"]


async def test_certificates_are_fetched_once_per_their_max_age(app, google, referred):
    fake, _ = google
    answers = await asyncio.gather(*(sign_in(app, token()) for _ in range(12)))
    assert [a.status_code for a in answers] == [200] * 12
    assert fake.fetches == 1  # twelve sign-ins at once, one download between them
    for _ in range(5):
        assert (await sign_in(app, token(KEY_B))).status_code == 401  # not a refetch either
    assert fake.fetches == 1


async def test_a_new_key_is_taken_up_without_a_restart(app, google, referred):
    fake, _ = google
    fake.max_age = 1
    assert (await sign_in(app, token(KEY_A))).status_code == 200
    fake.publish(KEY_A, KEY_B)  # Google rotates: B is published, then used
    assert (await sign_in(app, token(KEY_B))).status_code == 401  # still within max-age
    await asyncio.sleep(1.2)
    assert (await sign_in(app, token(KEY_B))).status_code == 200
    assert fake.fetches == 2


@pytest.mark.parametrize("failure", ["down", "drop", "hang", "status 500"])
async def test_an_unreachable_certificate_endpoint_is_503_never_401(app, google, failure):
    fake, link = google
    if failure == "status 500":
        fake.status = 500
    else:
        link.mode = failure
    started = time.monotonic()
    answers = await asyncio.gather(*(sign_in(app, token()) for _ in range(4)))
    took = time.monotonic() - started
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == str(RETRY_AFTER_S)
        assert answer.headers["content-type"] == "application/problem+json"
    assert took < FETCH_TIMEOUT_S + 2
    # The four shared one attempt; the next sign-ins are told at once, without another.
    tried = sum(link.accepted.values()), fake.fetches
    started = time.monotonic()
    assert (await sign_in(app, token())).status_code == 503
    assert time.monotonic() - started < 1
    assert (sum(link.accepted.values()), fake.fetches) == tried
    if failure == "hang":
        assert link.hung == 1
        await asyncio.sleep(0.2)
        assert link.cut == 1  # our side gave up and closed the connection


async def test_sign_in_comes_back_after_the_outage(app, google, referred):
    fake, link = google
    link.mode = "hang"
    assert (await sign_in(app, token())).status_code == 503
    link.mode = "pass"
    await asyncio.sleep(RETRY_AFTER_S)
    answer = await sign_in(app, token())
    assert answer.status_code == 200, answer.text
    assert fake.fetches == 1  # the hung attempt never reached it


async def test_known_keys_verify_through_an_outage_after_max_age(app, google, referred):
    fake, link = google
    fake.max_age = 1
    assert (await sign_in(app, token(KEY_A))).status_code == 200
    link.mode = "hang"
    await asyncio.sleep(1.2)
    # The certificates are past their max-age and cannot be refreshed: tokens of the
    # keys in hand still verify (and forgeries still fail); a key not among them may be
    # a new one, so it is a 503, not a 401.
    assert (await sign_in(app, token(KEY_A))).status_code == 200
    assert (await sign_in(app, token(STRANGER))).status_code == 401
    unknown = await sign_in(app, token(KEY_B))
    assert unknown.status_code == 503, unknown.text

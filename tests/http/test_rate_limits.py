"""Budgets per client and route group: over one, 429 problem+json with Retry-After, and
one client's excess does not spend another's budget."""

from datetime import timedelta
from uuid import uuid4

import msgspec
import pytest

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.services.errors import TooManyAttempts
from backend.store import rate_limits as rate_limit_rows
from backend.store.tables import Inbox, RateLimit
from backend.web.rate_limits import _Pruning, charge
from tests.factories import make_clinic, make_referral
from tests.http.app_with import app_with
from tests.http.integration_client import connect, inbound_path
from tests.http.patient_client import firebase_token
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.problems import assert_problem
from tests.http.staff_client import make_staff, sign_in
from tests.http.test_mis_webhooks import event, signed

SMALL = {
    "rate_limit_auth": 3,
    "rate_limit_patient": 4,
    "rate_limit_staff": 5,
    "rate_limit_webhooks": 2,
    "rate_limit_window_seconds": 3600,  # no window ends during the test
}


def assert_limited(response) -> None:
    assert_problem(response, 429)
    assert response.json()["status"] == 429
    assert 1 <= int(response.headers["retry-after"]) <= 3600


async def test_sign_in_is_limited_per_client_address(db):
    await make_referral(await make_clinic(), phone="+79161110011")
    async with app_with(db, **SMALL) as client:
        signed_in = await patient_sign_in(client, "+79161110011")  # spends one of three
        answers = [
            await client.post("/api/v1/auth/patient", json={"firebase_id_token": "not-a-token"})
            for _ in range(2)
        ]
        assert {a.status_code for a in answers} == {401}
        # The fourth is refused before the token is even looked at, valid or not.
        over = await client.post(
            "/api/v1/auth/patient", json={"firebase_id_token": firebase_token("+79161110010")}
        )
        assert_limited(over)
        staff = await client.post(
            "/api/v1/auth/staff", json={"email": "a@example.org", "password": "x", "totp": "1"}
        )
        assert_limited(staff)  # one budget for every sign-in route of this address
        # Renewing and ending a session are not sign-ins: a spent budget (many patients
        # behind one NAT) must not stop apps from keeping their sessions.
        renewed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": signed_in.refresh}
        )
        assert renewed.status_code == 200, renewed.text
        bearer = {"Authorization": f"Bearer {renewed.json()['access_token']}"}
        assert (await client.post("/api/v1/auth/logout", headers=bearer)).status_code == 204


async def test_patient_api_is_limited_per_patient(db):
    clinic_id = await make_clinic()
    first = await make_referral(clinic_id, phone="+79161110011")
    second = await make_referral(clinic_id, phone="+79161110012")
    async with app_with(db, **{**SMALL, "rate_limit_auth": 100}) as client:
        anna = await patient_sign_in(client, "+79161110011", first.invite_code)
        boris = await patient_sign_in(client, "+79161110012", second.invite_code)
        for _ in range(4):
            ok = await client.get("/api/v1/me", headers=anna.headers)
            assert ok.status_code == 200, ok.text
        assert_limited(await client.get("/api/v1/me/referrals", headers=anna.headers))
        # Another patient from the same address has a budget of their own.
        assert (await client.get("/api/v1/me", headers=boris.headers)).status_code == 200


async def test_staff_routes_are_limited_per_staff_user(db):
    async with app_with(db, **{**SMALL, "rate_limit_auth": 100}) as client:
        operator = await sign_in(client, await make_staff(Role.exchange_operator))
        analyst = await sign_in(client, await make_staff(Role.exchange_analyst))
        for _ in range(5):
            ok = await client.get("/api/v1/exchange/clinics", headers=operator.headers)
            assert ok.status_code == 200, ok.text
        assert_limited(await client.get("/api/v1/exchange/referrals", headers=operator.headers))
        assert (await client.get("/api/v1/exchange/clinics", headers=analyst.headers)).is_success


async def test_deliveries_are_limited_per_integration_and_refused_ones_are_not_stored(db):
    async with app_with(db, **{**SMALL, "rate_limit_auth": 100, "rate_limit_staff": 100}) as c:
        operator = await sign_in(c, await make_staff(Role.exchange_operator))
        configured = await connect(c, operator.headers, await make_clinic(), {"system": "webhook"})
        path, secret = inbound_path(configured), configured["signing_secret"]
        referral_id = str(uuid4())
        answers = [
            await c.post(path, content=body, headers=headers)
            for body, headers in (
                signed(secret, event("visit.happened", referral_id)) for _ in range(2)
            )
        ]
        assert [a.status_code for a in answers] == [202, 202], answers[0].text
        assert await Inbox.count() == 2
        body, headers = signed(secret, event("visit.happened", referral_id))
        assert_limited(await c.post(path, content=body, headers=headers))
        assert await Inbox.count() == 2  # refused before it was stored
        # Another clinic's integration has its own budget.
        other = await connect(
            c, operator.headers, await make_clinic("Другая"), {"system": "webhook"}
        )
        body, headers = signed(other["signing_secret"], event("visit.happened", referral_id))
        accepted = await c.post(inbound_path(other), content=body, headers=headers)
        assert accepted.status_code == 202, accepted.text


async def test_a_budget_of_zero_is_no_limit(db):
    async with app_with(db, **{**SMALL, "rate_limit_auth": 0}) as client:
        for _ in range(6):
            response = await client.post(
                "/api/v1/auth/patient", json={"firebase_id_token": "not-a-token"}
            )
            assert response.status_code == 401
    assert await RateLimit.count() == 0


async def test_ended_windows_are_pruned(db):
    await rate_limit_rows.hit(
        "auth:gone", window=timedelta(minutes=1), now=utcnow() - timedelta(hours=2)
    )
    await rate_limit_rows.hit("auth:recent", window=timedelta(minutes=1), now=utcnow())
    _Pruning.next_at = None  # this process has not pruned yet
    await charge(msgspec.structs.replace(db, rate_limit_auth=5), "auth", "new")
    keys = {row["key"] for row in await RateLimit.select(RateLimit.key)}
    assert keys == {"auth:recent", "auth:new"}


async def test_large_budgets_are_counted_in_the_process_and_settled_in_batches(db):
    """A patient's requests cost a write per batch (a twentieth of the budget), not per
    request; this process still refuses the request past the budget exactly."""
    settings = msgspec.structs.replace(db, rate_limit_patient=40, rate_limit_window_seconds=3600)
    subject = str(uuid4())

    async def stored() -> int:
        row = await RateLimit.select().where(RateLimit.key == f"patient:{subject}").first()
        return row["hits"]

    for _ in range(10):
        await charge(settings, "patient", subject)
    # Settled at the 1st request (to learn the shared count), then every 2nd: the 10th
    # waits in the process for its batch.
    assert await stored() == 9
    for _ in range(30):
        await charge(settings, "patient", subject)
    with pytest.raises(TooManyAttempts):
        await charge(settings, "patient", subject)
    assert await stored() == 41

    # Sign-in budgets stay exact: every request is written.
    exact = msgspec.structs.replace(db, rate_limit_auth=40)
    for _ in range(3):
        await charge(exact, "auth", subject)
    row = await RateLimit.select().where(RateLimit.key == f"auth:{subject}").first()
    assert row["hits"] == 3


async def test_counters_skip_the_write_ahead_log_on_postgresql(db):
    """A crash may forget counts (a window restarts); counting then costs no log flush."""
    if not db.database_url.startswith("postgres"):
        pytest.skip("SQLite has no unlogged tables; the embedded default pays the write")
    rows = await RateLimit.raw(
        "SELECT relpersistence::text AS persistence FROM pg_class WHERE relname = {}",
        "rate_limit",
    )
    assert rows == [{"persistence": "u"}]


async def test_made_up_staff_tokens_spend_the_address_budget(db):
    """Guessing session tokens is refused like guessing passwords: per address."""
    async with app_with(db, **SMALL) as client:
        guesses = [
            await client.get("/api/v1/exchange/clinics", headers={"Authorization": f"Bearer g{n}"})
            for n in range(4)
        ]
        assert [g.status_code for g in guesses[:3]] == [401, 401, 401]
        assert_limited(guesses[3])
        # No token at all costs no lookup and is not counted.
        assert (await client.get("/api/v1/exchange/clinics")).status_code == 401

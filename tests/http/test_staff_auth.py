"""Staff sign-in: password, TOTP (once per code), throttling per account and address."""

from datetime import timedelta

import pyotp

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.services import staff_auth
from tests.factories import make_clinic
from tests.http.staff_client import PASSWORD, make_staff, sign_in


async def test_sign_in_use_and_log_out(client, db):
    clinic = await make_clinic()
    staff = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))
    listing = await client.get("/api/v1/clinic/referrals", headers=staff.headers)
    assert listing.status_code == 200 and listing.json()["items"] == []
    assert (
        await client.post("/api/v1/auth/staff/logout", headers=staff.headers)
    ).status_code == 204
    assert (await client.get("/api/v1/clinic/referrals", headers=staff.headers)).status_code == 401


async def test_wrong_password_or_code_is_one_vague_answer(client, db):
    staff = await make_staff(Role.exchange_operator)
    code = pyotp.TOTP(staff.secret).now()
    for body in (
        {"email": staff.email, "password": "wrong password!", "totp": code},
        {"email": "nobody@example.org", "password": PASSWORD, "totp": code},
    ):
        response = await client.post("/api/v1/auth/staff", json=body)
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong e-mail, password or code"


async def test_a_totp_code_works_once(client, db):
    staff = await make_staff(Role.exchange_operator)
    code = staff.code()
    body = {"email": staff.email, "password": PASSWORD, "totp": code}
    assert (await client.post("/api/v1/auth/staff", json=body)).status_code == 200
    assert (await client.post("/api/v1/auth/staff", json=body)).status_code == 401


async def test_failures_lock_the_account_for_the_window_only(db):
    staff = await make_staff(Role.exchange_operator)
    now = utcnow()
    for i in range(staff_auth.MAX_FAILURES):
        try:
            await staff_auth.sign_in(
                email=staff.email,
                password="nope nope nope",
                totp="000000",
                ip=f"10.0.0.{i}",
                now=now,
            )
        except Exception as exc:
            assert type(exc).__name__ == "NotAuthenticated"
    good = pyotp.TOTP(staff.secret)
    try:
        await staff_auth.sign_in(
            email=staff.email, password=PASSWORD, totp=good.at(now), ip="10.9.9.9", now=now
        )
        raise AssertionError("should be throttled")
    except Exception as exc:
        assert type(exc).__name__ == "TooManyAttempts"
    later = now + staff_auth.WINDOW + timedelta(seconds=1)
    signed = await staff_auth.sign_in(
        email=staff.email, password=PASSWORD, totp=good.at(later), ip="10.9.9.9", now=later
    )
    assert signed.principal.email == staff.email


async def test_an_address_is_throttled_across_accounts(db):
    now = utcnow()
    for i in range(staff_auth.MAX_FAILURES):
        try:
            await staff_auth.sign_in(
                email=f"guess{i}@example.org",
                password="x" * 12,
                totp="1",
                ip="203.0.113.7",
                now=now,
            )
        except Exception as exc:
            assert type(exc).__name__ == "NotAuthenticated"
    staff = await make_staff(Role.exchange_operator)
    try:
        await staff_auth.sign_in(
            email=staff.email,
            password=PASSWORD,
            totp=pyotp.TOTP(staff.secret).at(now),
            ip="203.0.113.7",
            now=now,
        )
        raise AssertionError("should be throttled")
    except Exception as exc:
        assert type(exc).__name__ == "TooManyAttempts"


async def test_sessions_end_after_fifteen_idle_minutes(db):
    staff = await make_staff(Role.exchange_operator)
    now = utcnow()
    signed = await staff_auth.sign_in(
        email=staff.email,
        password=PASSWORD,
        totp=pyotp.TOTP(staff.secret).at(now),
        ip="1.1.1.1",
        now=now,
    )
    assert (await staff_auth.session(signed.token, now + timedelta(minutes=14))).email
    try:
        await staff_auth.session(signed.token, now + timedelta(minutes=14 + 16))
        raise AssertionError("should have ended")
    except Exception as exc:
        assert type(exc).__name__ == "NotAuthenticated"


async def test_first_sign_in_without_a_code_asks_to_enrol(client, db):
    staff = await make_staff(Role.clinic_manager, await make_clinic())
    response = await client.post(
        "/api/v1/auth/staff", json={"email": staff.email, "password": PASSWORD, "totp": ""}
    )
    assert response.status_code == 403
    assert "authenticator" in response.json()["detail"]

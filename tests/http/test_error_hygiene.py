"""Bad input is a 4xx problem document that says what is wrong, never a 500, a stack
trace or a piece of SQL."""

import re

import pytest

from backend.domain.roles import Role
from tests.factories import make_clinic, make_referral
from tests.http.integration_client import connect, inbound_path
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.problems import assert_problem
from tests.http.staff_client import make_staff, sign_in
from tests.http.test_mis_webhooks import event, signed

BIGINT_MAX = 2**63 - 1
LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|asyncpg|sqlite3|piccolo|SELECT |INSERT |UPDATE |DELETE FROM|"
    r"OverflowError|IntegrityError|NumericValueOutOfRange",
    re.IGNORECASE,
)


def assert_clean_4xx(response) -> None:
    assert_problem(response)
    assert response.json()["status"] == response.status_code
    assert not LEAKS.search(response.text), response.text


@pytest.fixture
async def operator(client, db):
    return await sign_in(client, await make_staff(Role.exchange_operator))


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1, 2", b"\xff\xfe", b'{"patient": ', b"null", b"12345678901234567890" * 100],
)
async def test_malformed_json_is_a_400(client, operator, body):
    response = await client.post(
        "/api/v1/exchange/referrals",
        content=body,
        headers={**operator.headers, "content-type": "application/json"},
    )
    assert_clean_4xx(response)


async def test_wrong_types_huge_integers_and_unknown_fields_are_refused(client, operator):
    clinic_id = str(await make_clinic())
    good_item = {"specialization": "therapy", "price": 650000, "title_ru": "Пломба"}
    for plan_item in (
        {**good_item, "price": "много"},
        {**good_item, "price": BIGINT_MAX + 1},
        {**good_item, "price": 10**40},
        {**good_item, "price": -(10**40)},
        {**good_item, "tooth": 10**30},
        {**good_item, "price": 1.5},
        {**good_item, "colour": "red"},
    ):
        response = await client.post(
            "/api/v1/exchange/referrals",
            headers=operator.headers,
            json={
                "patient": {"phone": "+79161110020", "name": "Анна"},
                "clinic_id": clinic_id,
                "plan": {"items": [plan_item]},
            },
        )
        assert_clean_4xx(response)
    response = await client.post(
        "/api/v1/exchange/referrals",
        headers=operator.headers,
        json={"patient": {"phone": "+79161110020", "name": "Анна"}, "clinic_id": 5, "plan": []},
    )
    assert_clean_4xx(response)


@pytest.mark.parametrize("delivery_id", [BIGINT_MAX + 1, 10**30, -(2**70), 0, -1])
async def test_path_ids_out_of_range_are_a_4xx(client, operator, delivery_id):
    for method, path in (
        ("GET", f"/api/v1/exchange/inbox/{delivery_id}"),
        ("POST", f"/api/v1/exchange/inbox/{delivery_id}/replay"),
    ):
        response = await client.request(method, path, headers=operator.headers)
        assert_clean_4xx(response)


async def test_query_numbers_out_of_range_are_a_400(client, operator):
    for params in ({"limit": 10**30}, {"limit": "ten"}, {"cursor": BIGINT_MAX + 1}):
        response = await client.get(
            "/api/v1/exchange/inbox", params=params, headers=operator.headers
        )
        assert_clean_4xx(response)
    for path in ("/api/v1/exchange/referrals/not-a-uuid", "/api/v1/exchange/audit?cursor=-5"):
        assert_clean_4xx(await client.get(path, headers=operator.headers))


async def test_mis_webhooks_with_huge_numbers_are_refused_cleanly(client, operator):
    configured = await connect(client, operator.headers, await make_clinic(), {"system": "webhook"})
    path, secret = inbound_path(configured), configured["signing_secret"]
    sent = await make_referral(await make_clinic("Другая"), phone="+79161110021")
    for payload in (
        event("payment.received", str(sent.referral_id), amount=BIGINT_MAX + 1),
        event("payment.received", str(sent.referral_id), amount=10**40),
        event("payment.received", str(sent.referral_id), amount="a lot"),
        event("payment.received", str(sent.referral_id), amount=5, extra_field=1),
        {"type": "visit.happened", "timestamp": 10**30, "data": {}},
    ):
        body, headers = signed(secret, payload)
        assert_clean_4xx(await client.post(path, content=body, headers=headers))
    body, headers = signed(secret, event("visit.happened", str(sent.referral_id)))
    assert_clean_4xx(await client.post(path, content=body[:-3], headers=headers))


async def test_patient_routes_refuse_bad_input_cleanly(client, db):
    sent = await make_referral(await make_clinic(), phone="+79161110022")
    patient = await patient_sign_in(client, "+79161110022", sent.invite_code)
    headers = patient.headers
    for method, path, payload in (
        ("PATCH", "/api/v1/me", {"locale": 5}),
        ("PATCH", "/api/v1/me", {"nickname": "x"}),
        ("GET", "/api/v1/me/referrals?limit=100000000000000000000000", None),
        ("GET", "/api/v1/me/referrals?cursor=%00%01", None),
        ("GET", f"/api/v1/me/referrals/{sent.referral_id}x", None),
        ("POST", "/api/v1/me/visit-code", {"code": 10**40}),
    ):
        response = await client.request(method, path, headers=headers, json=payload)
        assert_clean_4xx(response)

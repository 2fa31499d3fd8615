"""What the OpenAPI fuzzer found answering 500, kept as plain regression tests: each is
now a 400 problem document."""

from backend.domain.roles import Role
from tests.factories import make_clinic, make_referral
from tests.http.problems import assert_problem
from tests.http.staff_client import make_staff, sign_in


async def test_inputs_the_fuzzer_found_are_bad_requests(client, db):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone="+79161110061")
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    health = await sign_in(client, await make_staff(Role.health_analyst))
    picture = {"file": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")}
    answers = {
        # A form field that is not UTF-8 (Litestar decodes fields before any handler).
        "form field": await client.post(
            f"/api/v1/exchange/referrals/{sent.referral_id}/media",
            headers=operator.headers,
            files={**picture, "kind": (None, b"\x89\xff\xfe", "text/plain")},
        ),
        # A month in year 0: twelve months back from it is no date at all.
        "month": await client.get("/api/v1/health/prices?to=0000-01", headers=health.headers),
        # A cursor beyond BIGINT.
        "cursor": await client.get(
            f"/api/v1/exchange/audit?cursor={2**64}", headers=operator.headers
        ),
        "inbox cursor": await client.get(
            f"/api/v1/exchange/inbox?cursor={2**64}", headers=operator.headers
        ),
        # A NUL character in a search: PostgreSQL cannot compare or store it.
        "nul": await client.get("/api/v1/exchange/referrals?q=a%00b", headers=operator.headers),
        # An SLA beyond PostgreSQL's integer (and beyond a week).
        "sla": await client.patch(
            f"/api/v1/exchange/clinics/{clinic}",
            headers=operator.headers,
            json={"first_contact_sla_minutes": -13581586242724732},
        ),
    }
    for name, answer in answers.items():
        assert_problem(answer, 400, name)
        assert "Traceback" not in answer.text and "SELECT" not in answer.text, name
    # A picture link with a non-ASCII signature is a wrong link: 404, like any other.
    odd = await client.get(f"/media/{sent.referral_id}?exp=99999999999&sig=%C3%A9%E2%82%AC")
    assert odd.status_code == 404, odd.text


async def test_a_nul_in_a_body_is_a_bad_request_where_it_cannot_be_stored(client, db):
    """PostgreSQL's text holds no NUL character (store.unavailable.UNSTORABLE_TEXT): that
    is a 400 problem document, never a 500. SQLite stores the text as given."""
    clinic = await make_clinic()
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    answer = await client.patch(
        f"/api/v1/exchange/clinics/{clinic}",
        headers=operator.headers,
        json={"address": "ул. Ленина\x00, 1"},
    )
    if db.database_url.startswith("sqlite"):
        assert answer.status_code == 200, answer.text
        return
    assert_problem(answer, 400)
    assert "NUL" in answer.json()["detail"]

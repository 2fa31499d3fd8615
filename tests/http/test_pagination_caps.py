"""Every list caps its page size: keyset pages at 100, worklists at 500."""

from backend.domain.roles import Role
from backend.routes.paging import MAX_LIMIT, MAX_LIST
from backend.store.tables import Referral
from tests.factories import make_clinic, make_referral
from tests.http.staff_client import make_staff, sign_in


async def test_every_route_with_a_limit_caps_it(client, db):
    schema = (await client.get("/schema/openapi.json")).json()
    capped = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "limit" and parameter["in"] == "query":
                    capped[f"{method} {path}"] = parameter["schema"].get("maximum")
    assert len(capped) >= 10, capped
    assert all(m is not None and m <= MAX_LIST for m in capped.values()), capped
    assert "get /api/v1/clinic/nobody-called" in capped
    assert "get /api/v1/clinic/follow-up" in capped


async def test_pages_over_the_cap_are_refused(client, db):
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    for path in (
        "/api/v1/exchange/referrals",
        "/api/v1/exchange/inbox",
        "/api/v1/exchange/disputes",
        "/api/v1/exchange/audit",
        "/api/v1/exchange/prices",
    ):
        for limit in (0, MAX_LIMIT + 1, 10**12):
            response = await client.get(path, params={"limit": limit}, headers=operator.headers)
            assert response.status_code == 400, (path, limit, response.text)
        ok = await client.get(path, params={"limit": MAX_LIMIT}, headers=operator.headers)
        assert ok.status_code == 200, (path, ok.text)


async def test_worklists_are_capped_and_take_a_smaller_limit(client, db):
    clinic_id = await make_clinic()
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    for i in range(3):
        sent = await make_referral(clinic_id, phone=f"+7916111003{i}")
        # Three plans behind schedule, as the fold would mark them.
        await Referral.update({Referral.step: "in_treatment", Referral.schedule: "behind"}).where(
            Referral.id == sent.referral_id
        )
    url = "/api/v1/clinic/follow-up"
    whole = await client.get(url, headers=coordinator.headers)
    assert whole.status_code == 200, whole.text
    assert len(whole.json()["items"]) == 3
    two = await client.get(url, params={"limit": 2}, headers=coordinator.headers)
    assert len(two.json()["items"]) == 2
    for path in (url, "/api/v1/clinic/nobody-called"):
        over = await client.get(path, params={"limit": MAX_LIST + 1}, headers=coordinator.headers)
        assert over.status_code == 400, over.text
        at_cap = await client.get(path, params={"limit": MAX_LIST}, headers=coordinator.headers)
        assert at_cap.status_code == 200, at_cap.text

"""Every clinic and exchange route × every role, written down and checked; and another
clinic's objects are answered as missing."""

from uuid import uuid4

import pytest

from backend.domain.roles import Role
from tests.factories import make_clinic, make_referral
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in

COORD, MANAGER, OPERATOR, ANALYST, HEALTH = (
    Role.clinic_coordinator,
    Role.clinic_manager,
    Role.exchange_operator,
    Role.exchange_analyst,
    Role.health_analyst,
)
CLINIC_STAFF = {COORD, MANAGER}
ALL_STAFF = {COORD, MANAGER, OPERATOR, ANALYST, HEALTH}

# (method, path, roles allowed). Paths name objects that do not exist, so an allowed role
# is answered 200, 400 or 404 — never 401/403 — and nothing changes.
MATRIX = [
    ("GET", "/api/v1/clinic/referrals", CLINIC_STAFF),
    ("GET", "/api/v1/clinic/referrals/{referral_id}", CLINIC_STAFF),
    ("GET", "/api/v1/clinic/referrals/{referral_id}/timeline", CLINIC_STAFF),
    ("POST", "/api/v1/clinic/referrals/{referral_id}/claims", CLINIC_STAFF),
    ("PUT", "/api/v1/clinic/referrals/{referral_id}/plan", CLINIC_STAFF),
    ("POST", "/api/v1/clinic/referrals/{referral_id}/visit-code", CLINIC_STAFF),
    ("GET", "/api/v1/clinic/funnel", {MANAGER}),
    ("GET", "/api/v1/clinic/funnel/cohorts", {MANAGER}),
    ("GET", "/api/v1/clinic/funnel/plan-vs-fact", {MANAGER}),
    ("GET", "/api/v1/clinic/funnel/specializations", {MANAGER}),
    ("GET", "/api/v1/clinic/ratings", {MANAGER}),
    ("GET", "/api/v1/clinic/nobody-called", CLINIC_STAFF),
    ("GET", "/api/v1/clinic/follow-up", CLINIC_STAFF),
    ("GET", "/api/v1/exchange/clinics", {OPERATOR, ANALYST}),
    ("POST", "/api/v1/exchange/clinics", {OPERATOR}),
    ("GET", "/api/v1/exchange/clinics/{clinic_id}", {OPERATOR, ANALYST}),
    ("PATCH", "/api/v1/exchange/clinics/{clinic_id}", {OPERATOR}),
    ("POST", "/api/v1/exchange/clinics/{clinic_id}/archive", {OPERATOR}),
    ("POST", "/api/v1/exchange/staff", {OPERATOR}),
    ("POST", "/api/v1/exchange/referrals", {OPERATOR}),
    ("GET", "/api/v1/exchange/referrals", {OPERATOR}),
    ("GET", "/api/v1/exchange/referrals/{referral_id}", {OPERATOR}),
    ("POST", "/api/v1/exchange/referrals/{referral_id}/media", {OPERATOR}),
    ("POST", "/api/v1/exchange/referrals/{referral_id}/transfer", {OPERATOR}),
    ("GET", "/api/v1/exchange/disputes", {OPERATOR}),
    ("POST", "/api/v1/exchange/disputes/{dispute_id}/resolution", {OPERATOR}),
    ("GET", "/api/v1/exchange/scorecards", {OPERATOR, ANALYST}),
    ("GET", "/api/v1/exchange/funnel", {OPERATOR, ANALYST}),
    ("GET", "/api/v1/exchange/funnel/cohorts", {OPERATOR, ANALYST}),
    ("GET", "/api/v1/exchange/funnel/plan-vs-fact", {OPERATOR, ANALYST}),
    ("GET", "/api/v1/exchange/funnel/specializations", {OPERATOR, ANALYST}),
    ("GET", "/api/v1/exchange/audit", {OPERATOR}),
    ("PUT", "/api/v1/exchange/clinics/{clinic_id}/integration", {OPERATOR}),
    ("GET", "/api/v1/exchange/clinics/{clinic_id}/integration/stages", {OPERATOR}),
    ("GET", "/api/v1/exchange/inbox", {OPERATOR}),
    ("GET", "/api/v1/exchange/inbox/{delivery_id}", {OPERATOR}),
    ("POST", "/api/v1/exchange/inbox/{delivery_id}/replay", {OPERATOR}),
    ("GET", "/api/v1/exchange/prices", {OPERATOR, ANALYST}),
    ("PUT", "/api/v1/exchange/prices", {OPERATOR}),
    ("GET", "/api/v1/exchange/clinics/{clinic_id}/prices", {OPERATOR, ANALYST}),
    ("PUT", "/api/v1/exchange/clinics/{clinic_id}/prices", {OPERATOR}),
    ("POST", "/api/v1/exchange/referrals/import", {OPERATOR}),
    ("GET", "/api/v1/health/aggregates", {HEALTH, OPERATOR, ANALYST}),
    ("GET", "/api/v1/health/prices", {HEALTH, OPERATOR, ANALYST}),
    ("POST", "/api/v1/auth/staff/logout", ALL_STAFF),
]


def staff_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        path = route.path_format
        if path.startswith(
            ("/api/v1/clinic", "/api/v1/exchange", "/api/v1/health/", "/api/v1/auth/staff/")
        ):
            for method in route.methods - {"OPTIONS", "HEAD"}:
                found.add((method, path))
    return found


def test_every_staff_route_is_in_the_matrix():
    from backend.app import create_app
    from backend.settings import load_settings

    app = create_app(load_settings({"PLANTRACK_VAR_DIR": "/tmp/plantrack-matrix"}))
    assert staff_routes(app) == {(m, p) for m, p, _ in MATRIX}


async def test_route_role_matrix(client, db):
    clinic = await make_clinic()
    sessions = {}
    for role in ALL_STAFF:
        staff = await make_staff(role, clinic if role in CLINIC_STAFF else None)
        sessions[role] = (await sign_in(client, staff)).headers
    await make_referral(clinic)
    patient = await patient_sign_in(client, "+79161234567")
    ids = {
        "referral_id": uuid4(),
        "clinic_id": uuid4(),
        "dispute_id": uuid4(),
        "delivery_id": 987654,
    }

    checked = 0
    for method, path, allowed in MATRIX:
        url = path.format(**ids)
        if path.endswith("/logout"):
            continue  # ends the session: checked last, below
        for role, headers in sessions.items():
            response = await client.request(method, url, headers=headers, json={})
            if role in allowed:
                assert response.status_code not in (401, 403), (method, path, role, response.text)
            else:
                assert response.status_code == 403, (method, path, role, response.status_code)
            checked += 1
        for who, headers in (("patient", patient.headers), ("anonymous", {})):
            response = await client.request(method, url, headers=headers, json={})
            assert response.status_code == 401, (method, path, who, response.status_code)
            checked += 1
    for headers in sessions.values():
        assert (await client.post("/api/v1/auth/staff/logout", headers=headers)).status_code == 204
    assert checked == (len(MATRIX) - 1) * (len(ALL_STAFF) + 2)


@pytest.mark.parametrize("role", [COORD, MANAGER])
async def test_another_clinics_referral_is_not_found(client, db, role):
    mine, theirs = await make_clinic("Моя"), await make_clinic("Чужая")
    own = await make_referral(mine, phone="+79161234567")
    other = await make_referral(theirs, phone="+79167654321")
    staff = await sign_in(client, await make_staff(role, mine))
    h = staff.headers
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/timeline", None),
        ("POST", "/claims", {"kind": "received"}),
        ("PUT", "/plan", {"reason": "x", "items": [{"specialization": "therapy", "price": 100}]}),
        ("POST", "/visit-code", None),
    ]:
        response = await client.request(
            method, f"/api/v1/clinic/referrals/{other.referral_id}{suffix}", headers=h, json=body
        )
        assert response.status_code == 404, (suffix, response.status_code, response.text)
        own_response = await client.request(
            method, f"/api/v1/clinic/referrals/{own.referral_id}{suffix}", headers=h, json=body
        )
        assert own_response.status_code == 200, (suffix, own_response.text)
    listing = (await client.get("/api/v1/clinic/referrals", headers=h)).json()["items"]
    assert [r["id"] for r in listing] == [str(own.referral_id)]

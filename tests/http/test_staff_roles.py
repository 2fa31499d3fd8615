"""Another clinic's objects are answered as missing, and its list holds only its own.

Every route × every caller is in tests/http/test_access_matrix.py; this checks the
clinic routes' writes and reads side by side with the clinic's own referral."""

import pytest

from backend.domain.roles import Role
from tests.factories import make_clinic, make_referral
from tests.http.staff_client import make_staff, sign_in

COORD, MANAGER = Role.clinic_coordinator, Role.clinic_manager


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

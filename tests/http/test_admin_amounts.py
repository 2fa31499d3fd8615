"""Roubles typed into the staff pages become kopecks exactly: "6 500,50" is 650 050, a
fraction of a kopeck or a number without end is refused on the page, never rounded and
never a server error."""

import re

import msgspec
import pytest

from admin.plan_form import kopecks
from admin.views import COOKIE
from backend.domain.events import Payment
from backend.domain.roles import Role
from backend.services.errors import Invalid
from backend.services.referrals import PatientIn, PlanIn, send_referral
from backend.store import ledger
from tests.factories import NOW, make_clinic
from tests.http.staff_client import make_staff, sign_in


@pytest.mark.parametrize(
    ("typed", "minor"),
    [("6500", 6_500_00), ("6 500,50", 6_500_50), ("6\u00a0500.5", 6_500_50), ("0,01", 1)],
)
def test_roubles_as_people_type_them(typed, minor):
    assert kopecks(typed, "price") == minor


@pytest.mark.parametrize("typed", ["12.345", "inf", "-Infinity", "1e400", "NaN", "двести", ""])
def test_what_is_not_an_amount_in_kopecks_is_refused(typed):
    with pytest.raises(Invalid, match="price"):
        kopecks(typed, "price")


CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def _post_form(client, page: str, path: str, data: dict):
    """As a browser does: the page first (it sets the CSRF cookie and token), then the form."""
    token = CSRF.search((await client.get(page)).text).group(1)
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


async def _referral(clinic_id):
    plan = msgspec.convert({"items": [{"specialization": "therapy", "price": 5_000_00}]}, PlanIn)
    sent = await send_referral(
        patient=PatientIn(phone="+79161234570", name="Анна"),
        clinic_id=clinic_id,
        plan=plan,
        actor="test",
        now=NOW,
    )
    return sent.referral_id


async def test_the_payment_form_records_kopecks_and_refuses_endless_numbers(client, db):
    clinic_id = await make_clinic()
    referral_id = await _referral(clinic_id)
    staff = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    client.cookies.set(COOKIE, staff.token)
    path = f"/admin/referrals/{referral_id}/claims"

    for typed in ("1e400", "12.345"):
        data = {"kind": "payment", "amount_rub": typed}
        refused = await _post_form(client, f"/admin/referrals/{referral_id}", path, data)
        assert refused.status_code == 303 and "error=" in refused.headers["location"]
    data = {"kind": "payment", "amount_rub": "1 000,50"}
    paid = await _post_form(client, f"/admin/referrals/{referral_id}", path, data)
    assert paid.status_code == 303 and "msg=recorded" in paid.headers["location"]
    payments = [e.body for e in await ledger.events_of(referral_id) if isinstance(e.body, Payment)]
    assert payments == [Payment(amount=1_000_50)]


async def test_the_new_referral_form_refuses_a_price_it_cannot_hold(client, db):
    clinic_id = await make_clinic()
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    client.cookies.set(COOKIE, operator.token)
    form = {"phone": "+79161234571", "name": "Борис", "clinic": str(clinic_id), "order": ""}
    new = "/admin/referrals/new"
    refused = await _post_form(client, new, new, {**form, "items": "therapy; 1e400; Пломба"})
    assert refused.status_code == 303 and "error=" in refused.headers["location"]
    assert "price" in refused.headers["location"]
    made = await _post_form(client, new, new, {**form, "items": "therapy; 4 500,50; Пломба"})
    assert made.status_code == 303 and "msg=saved" in made.headers["location"]

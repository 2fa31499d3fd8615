"""The desk's referral list filters alike on the clinic's API, the exchange's and the
staff page: each filter narrows the list, filters together narrow it further, and a
clinic's staff see their own clinic's referrals only, whatever they ask for."""

import re
from datetime import timedelta

from admin.views import COOKIE
from backend.domain.roles import Role
from backend.store.tables import Referral
from tests.factories import NOW, book, make_clinic, make_referral
from tests.http.staff_client import make_staff, sign_in

ON_PAGE = re.compile(r'href="/admin/referrals/([0-9a-f-]{36})"')


async def _desk():
    """Two referrals at the clinic Улыбка (one sent, one booked), one elsewhere."""
    smile, other = await make_clinic("Улыбка"), await make_clinic("Другая")
    sent = str((await make_referral(smile, phone="+79160000001")).referral_id)
    booked = str((await make_referral(smile, phone="+79160000002")).referral_id)
    await book(booked, NOW + timedelta(days=2), now=NOW)
    elsewhere = str((await make_referral(other, phone="+79160000003")).referral_id)
    # The counters and the schedule the recording keeps, set here: how they come about is
    # pinned by the verification, dispute and schedule tests; the lists only read them.
    await Referral.update({Referral.overdue_count: 1}).where(Referral.id == sent)
    await Referral.update({Referral.disputed_count: 1}).where(Referral.id == elsewhere)
    await Referral.update({Referral.schedule: "behind"}).where(Referral.id == booked)
    return smile, other, sent, booked, elsewhere


async def _listed(client, path: str, headers: dict) -> set[str]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["items"]}


async def test_each_filter_narrows_the_exchanges_and_the_clinics_list(client, db):
    smile, other, sent, booked, elsewhere = await _desk()
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, smile))

    exchange = "/api/v1/exchange/referrals"
    expected = {
        "": {sent, booked, elsewhere},
        f"clinic_id={smile}": {sent, booked},
        "step=booked": {booked},
        "overdue=true": {sent},
        "disputed=true": {elsewhere},
        "behind=true": {booked},
        "q=0000003": {elsewhere},
        f"clinic_id={other}&overdue=true": set(),
        f"clinic_id={smile}&step=sent&overdue=true": {sent},
    }
    for query, ids in expected.items():
        assert await _listed(client, f"{exchange}?{query}", operator.headers) == ids, query

    clinic = "/api/v1/clinic/referrals"
    expected = {
        "": {sent, booked},
        "step=booked": {booked},
        "overdue=true": {sent},
        "disputed=true": set(),  # the dispute is another clinic's
        "q=0000003": set(),
        "q=0000002&step=booked": {booked},
    }
    for query, ids in expected.items():
        assert await _listed(client, f"{clinic}?{query}", coordinator.headers) == ids, query


async def test_the_staff_page_filters_as_the_api_does(client, db):
    smile, other, sent, booked, elsewhere = await _desk()

    async def on_page(staff, query: str) -> set[str]:
        client.cookies.set(COOKIE, staff.token)
        response = await client.get(f"/admin/referrals?{query}")
        assert response.status_code == 200, response.text
        return set(ON_PAGE.findall(response.text))

    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    assert await on_page(operator, "") == {sent, booked, elsewhere}
    assert await on_page(operator, f"clinic={smile}&step=booked") == {booked}
    assert await on_page(operator, "disputed=true") == {elsewhere}
    assert await on_page(operator, "overdue=true&q=0000001") == {sent}
    assert await on_page(operator, "step=nonsense") == {sent, booked, elsewhere}

    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, smile))
    assert await on_page(coordinator, "") == {sent, booked}
    assert await on_page(coordinator, f"clinic={other}") == set()  # not theirs: empty

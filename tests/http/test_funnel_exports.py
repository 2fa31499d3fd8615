"""The funnel and the cohort table over HTTP, as JSON and as CSV/XLSX downloads."""

import csv
import io
from datetime import timedelta

import openpyxl

from backend.clock import utcnow
from backend.domain.roles import Role
from backend.ids import new_id
from backend.store import parties
from tests.factories import make_clinic, make_referral
from tests.http.staff_client import make_staff, sign_in


async def setup(client):
    clinic = await make_clinic()
    manager = (await sign_in(client, await make_staff(Role.clinic_manager, clinic))).headers
    now = utcnow()
    sent = await make_referral(clinic, at=now - timedelta(hours=2))
    card = await client.get(f"/api/v1/clinic/referrals/{sent.referral_id}", headers=manager)
    items = card.json()["plans"][0]["items"]
    done = await client.post(
        f"/api/v1/clinic/referrals/{sent.referral_id}/claims",
        headers=manager,
        json={"kind": "item_done", "item_id": items[0]["item_id"]},
    )
    assert done.status_code == 200, done.text
    return manager, items, now


async def test_the_funnel_downloads_as_csv_and_xlsx(client, db):
    manager, items, _ = await setup(client)
    total = sum(i["price"] for i in items)
    answer = await client.get("/api/v1/clinic/funnel", headers=manager)
    assert answer.status_code == 200 and answer.json()["in_money"] == total

    csv_answer = await client.get("/api/v1/clinic/funnel?format=csv", headers=manager)
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    text = csv_answer.content.decode("utf-8-sig")
    rows = {r[0]: r for r in csv.reader(io.StringIO(text))}
    assert rows["figure"] == ["figure", "count", "money", "verified", "unverified", "disputed"]
    assert rows["in"][1:3] == ["1", str(total)]
    assert rows["executed"][2] == str(items[0]["price"])

    xlsx = await client.get("/api/v1/clinic/funnel?format=xlsx", headers=manager)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    table = {row[0]: row for row in sheet.iter_rows(values_only=True)}
    assert table["in"][1:3] == (1, total)
    assert table["reserve at the end"][2] == total - items[0]["price"]


async def test_the_cohort_table(client, db):
    manager, items, now = await setup(client)
    month = now.strftime("%Y-%m")  # the clinic is in Moscow; a month's first hours aside
    answer = await client.get(f"/api/v1/clinic/funnel/cohorts?from={month}", headers=manager)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["items"]
    total = sum(i["price"] for i in items)
    assert (row["cohort"], row["referrals"], row["in_money"]) == (month, 1, total)
    assert row["executed"] == [items[0]["price"]]
    assert row["share"] == [round(100 * items[0]["price"] / total, 1)]

    xlsx = await client.get(
        f"/api/v1/clinic/funnel/cohorts?from={month}&format=xlsx", headers=manager
    )
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("cohort", "referrals", "in_money", "executed M+0")
    assert rows[1][:4] == (month, 1, total, items[0]["price"])

    bad = await client.get("/api/v1/clinic/funnel/cohorts?from=2026-13", headers=manager)
    assert bad.status_code == 400
    backwards = await client.get(
        "/api/v1/clinic/funnel/cohorts?from=2026-10&to=2026-01", headers=manager
    )
    assert backwards.status_code == 422
    assert (
        await client.get("/api/v1/clinic/funnel?format=pdf", headers=manager)
    ).status_code == 400


async def test_the_exchange_narrows_the_funnel_to_a_city(client, db):
    moscow = await make_clinic("Москва-1")
    novosibirsk = new_id()
    await parties.insert_clinic(
        clinic_id=novosibirsk,
        name="Сибирь",
        city="Новосибирск",
        timezone="Asia/Novosibirsk",
        now=utcnow() - timedelta(days=30),
    )
    now = utcnow()
    await make_referral(moscow, phone="+79161234501", at=now - timedelta(hours=1))
    await make_referral(novosibirsk, phone="+79161234502", at=now - timedelta(hours=1))
    await make_referral(novosibirsk, phone="+79161234503", at=now - timedelta(hours=1))
    analyst = (await sign_in(client, await make_staff(Role.exchange_analyst))).headers

    async def count(query: str) -> int:
        answer = await client.get(f"/api/v1/exchange/funnel{query}", headers=analyst)
        assert answer.status_code == 200, answer.text
        return answer.json()["in_count"]

    assert await count("") == 3
    assert await count("?city=новосибирск") == 2
    assert await count("?city=Москва") == 1
    assert await count(f"?city=Москва&clinic_id={novosibirsk}") == 0
    assert await count("?city=Казань") == 0
    cohorts = await client.get("/api/v1/exchange/funnel/cohorts?city=Новосибирск", headers=analyst)
    assert cohorts.json()["items"][-1]["referrals"] == 2

"""The funnel and the cohort table over HTTP, as JSON and as CSV/XLSX downloads."""

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import openpyxl

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services import reports
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
        now=utcnow() - timedelta(days=60),
    )
    # Sent in the middle of a month that has begun everywhere: near a month's end, a
    # referral sent an hour ago may already be in the next month on Novosibirsk's calendar
    # while Moscow's month has not ended.
    now = utcnow()
    mid = now.replace(day=15, hour=6, minute=0, second=0, microsecond=0)
    sent = mid if now > mid + timedelta(hours=1) else (mid - timedelta(days=20)).replace(day=15)
    await make_referral(moscow, phone="+79161234501", at=sent)
    await make_referral(novosibirsk, phone="+79161234502", at=sent)
    await make_referral(novosibirsk, phone="+79161234503", at=sent)
    analyst = (await sign_in(client, await make_staff(Role.exchange_analyst))).headers
    days = f"from={(sent - timedelta(days=2)).date()}&to={(sent + timedelta(days=2)).date()}"

    async def count(query: str) -> int:
        query = f"{query}&{days}" if query else f"?{days}"
        answer = await client.get(f"/api/v1/exchange/funnel{query}", headers=analyst)
        assert answer.status_code == 200, answer.text
        return answer.json()["in_count"]

    assert await count("") == 3
    assert await count("?city=новосибирск") == 2
    assert await count("?city=Москва") == 1
    assert await count(f"?city=Москва&clinic_id={novosibirsk}") == 0
    assert await count("?city=Казань") == 0
    cohorts = await client.get(
        f"/api/v1/exchange/funnel/cohorts?city=Новосибирск&from={sent:%Y-%m}&to={sent:%Y-%m}",
        headers=analyst,
    )
    assert [row["referrals"] for row in cohorts.json()["items"]] == [2]


async def test_plan_vs_fact_and_specializations(client, db):
    manager, items, now = await setup(client)
    total, done = sum(i["price"] for i in items), items[0]["price"]
    month = now.strftime("%Y-%m")

    async def in_count(spec: str) -> int:
        answer = await client.get(f"/api/v1/clinic/funnel?specialization={spec}", headers=manager)
        assert answer.status_code == 200, answer.text
        return answer.json()["in_count"]

    # The factory's plan: a filling and an implant; the implant carries the money.
    assert (await in_count("implantology"), await in_count("therapy")) == (1, 0)
    wrong = await client.get("/api/v1/clinic/funnel?specialization=magic", headers=manager)
    assert wrong.status_code == 400 and "specialization" in wrong.text

    # Treatment started with the first item; the implant's six-month stage ends later.
    later = reports.add_months(month, 8)
    answer = await client.get(
        f"/api/v1/clinic/funnel/plan-vs-fact?from={month}&to={later}", headers=manager
    )
    assert answer.status_code == 200, answer.text
    rows = answer.json()["items"]
    assert rows[0]["month"] == month and len(rows) == 9
    assert sum(r["expected"] for r in rows) == total
    assert sum(r["executed"] for r in rows) == done == rows[0]["executed"]
    assert rows[0]["executed_split"]["verified"] == 0  # no patient has confirmed it yet
    assert max(r["expected"] for r in rows[4:]) >= items[1]["price"]  # months ahead
    download = await client.get(
        f"/api/v1/clinic/funnel/plan-vs-fact?from={month}&to={later}&format=csv", headers=manager
    )
    table = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["month", "expected", "executed"] and table[1][2] == str(done)

    answer = await client.get("/api/v1/clinic/funnel/specializations", headers=manager)
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["items"]
    assert row["specialization"] == "implantology"
    assert (row["referrals"], row["estimate_money"], row["estimate_average"]) == (1, total, total)
    assert (row["treated"], row["executed_money"], row["accepted"]) == (1, done, 1)
    assert row["completed"] == 0 and row["duration_days_average"] is None
    xlsx = await client.get("/api/v1/clinic/funnel/specializations?format=xlsx", headers=manager)
    sheet = list(
        openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True)
    )
    assert sheet[0][0] == "specialization" and sheet[1][:3] == ("implantology", 1, total)

    too_long = await client.get(
        "/api/v1/clinic/funnel/plan-vs-fact?from=2020-01&to=2026-01", headers=manager
    )
    assert too_long.status_code == 422


async def test_conversion_and_reasons_as_json_csv_and_xlsx(client, db):
    manager, _, now = await setup(client)  # booked by nobody; one item done
    # Days are the clinic's (Moscow): the referral, sent two hours ago, may fall on
    # the day before today there.
    moscow = ZoneInfo("Europe/Moscow")
    first = (now - timedelta(hours=2)).astimezone(moscow).date().isoformat()
    query = f"from={first}&to={now.astimezone(moscow).date().isoformat()}"
    answer = await client.get(f"/api/v1/clinic/funnel/conversion?{query}", headers=manager)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    steps = {s["step"]: s for s in body["total"]["steps"]}
    # An item done without a recorded call: the referral is in treatment, so it has
    # been contacted, booked and visited too (the furthest step reached).
    assert [steps[s]["reached"] for s in ("sent", "contacted", "in_treatment", "completed")] == [
        1,
        1,
        1,
        0,
    ]
    assert body["by"] == "coordinator" and body["total"]["moving"] == 1

    csv_answer = await client.get(
        f"/api/v1/clinic/funnel/conversion?{query}&format=csv", headers=manager
    )
    rows = list(csv.reader(io.StringIO(csv_answer.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "group",
        "label",
        "step",
        "reached",
        "base",
        "conversion, %",
        "of sent, %",
        "forecast",
    ]
    assert rows[1][:4] == ["total", "", "sent", "1"]
    xlsx = await client.get(
        f"/api/v1/clinic/funnel/conversion?{query}&format=xlsx&by=specialization",
        headers=manager,
    )
    table = list(
        openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True)
    )
    assert {r[0] for r in table[1:]} == {"total", "implantology"}
    bad = await client.get(f"/api/v1/clinic/funnel/conversion?{query}&by=clinicz", headers=manager)
    assert bad.status_code == 400

    reasons = await client.get(f"/api/v1/clinic/funnel/reasons?{query}", headers=manager)
    assert reasons.status_code == 200 and reasons.json()["items"] == []
    reasons_csv = await client.get(
        f"/api/v1/clinic/funnel/reasons?{query}&format=csv", headers=manager
    )
    assert reasons_csv.content.decode("utf-8-sig").splitlines()[0] == (
        "clinic_id,clinic_name,kind,reason,count,money"
    )

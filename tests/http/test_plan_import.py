"""The exchange keeps price lists and imports plans from AI analyses; the patient sees
the plan and the chart the analysis became."""

import json
import re
from pathlib import Path

from backend.domain.roles import Role
from backend.ops.demo import price_list
from backend.routes.staff_examples import PRICES_IN
from backend.services.plan_import import set_prices
from tests.factories import make_clinic
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in

PHONE = "+79161234567"
EXCHANGE_PRICES = [
    {
        "code": "B01.065.001",
        "specialization": "diagnostics",
        "title_ru": "Консультация и осмотр",
        "title_en": "Consultation",
        "price": 150000,
    },
    *PRICES_IN["entries"],  # the API document's example: a filling and an implant
]
ANALYSIS = {
    "format": "plantrack.ai-analysis/1",
    "analysis_id": "scan-000184",
    "model": "opg-net 3.2",
    "findings": [
        {"tooth": 16, "code": "caries", "probability": 0.94, "bbox": [10, 20, 30, 40]},
        {"tooth": 36, "code": "missing", "probability": 0.99},
        {"tooth": 27, "code": "caries", "probability": 0.31},
    ],
    "procedures": [
        {"code": "A16.07.054", "tooth": 36},
        {"code": "A16.07.002", "tooth": 16},
        {"code": "B01.065.001"},
    ],
}


async def test_prices_then_import_then_the_patient_sees_the_plan(client, db):
    clinic = await make_clinic()
    ex = (await sign_in(client, await make_staff(Role.exchange_operator))).headers
    analyst = (await sign_in(client, await make_staff(Role.exchange_analyst))).headers

    saved = await client.put(
        "/api/v1/exchange/prices", headers=ex, json={"entries": EXCHANGE_PRICES}
    )
    assert saved.json() == {"saved": 3}
    # The clinic's own implant price overrides the exchange's.
    own = {**EXCHANGE_PRICES[2], "price": 4900000}
    url = f"/api/v1/exchange/clinics/{clinic}/prices"
    assert (await client.put(url, headers=ex, json={"entries": [own]})).status_code == 200
    assert (await client.put(url, headers=analyst, json={"entries": [own]})).status_code == 403
    listed = (await client.get("/api/v1/exchange/prices?limit=2", headers=analyst)).json()
    assert [e["code"] for e in listed["items"]] == ["A16.07.002", "A16.07.054"]
    rest = await client.get(
        f"/api/v1/exchange/prices?after={listed['next_cursor']}", headers=analyst
    )
    assert [e["code"] for e in rest.json()["items"]] == ["B01.065.001"]
    assert rest.json()["next_cursor"] is None
    assert [e["price"] for e in (await client.get(url, headers=ex)).json()["items"]] == [4900000]

    body = {
        "patient": {"phone": PHONE, "name": "Анна"},
        "clinic_id": str(clinic),
        "analysis": ANALYSIS,
    }
    preview = await client.post(
        "/api/v1/exchange/referrals/import?dry_run=1", headers=ex, json=body
    )
    assert preview.status_code == 200, preview.text
    plan = preview.json()["plan"]
    assert preview.json()["referral"] is None
    assert [(i["code"], i["stage"], i["price"]) for i in plan["items"]] == [
        ("B01.065.001", 1, 150000),
        ("A16.07.002", 2, 650000),
        ("A16.07.054", 3, 4900000),
    ]
    assert plan["total"] == 5700000
    assert {(t["tooth"], t["phase"], t["condition"]) for t in plan["teeth"]} == {
        (16, "before", "caries"),
        (16, "after", "filled"),
        (36, "before", "missing"),
        (36, "after", "implant"),
    }
    assert any("tooth 27" in note for note in plan["notes"])

    sent = await client.post("/api/v1/exchange/referrals/import", headers=ex, json=body)
    assert sent.status_code == 201, sent.text
    referral = sent.json()["referral"]
    again = await client.post("/api/v1/exchange/referrals/import", headers=ex, json=body)
    assert (
        again.json()["referral"]["id"] == referral["id"] and again.json()["referral"]["duplicate"]
    )

    patient = await patient_sign_in(client, PHONE, referral["invite_code"])
    seen = await client.get(f"/api/v1/me/referrals/{referral['id']}", headers=patient.headers)
    assert seen.status_code == 200
    items = [i for stage in seen.json()["stages"] for i in stage["items"]]
    assert [(i["title"], i["tooth"], i["price"]["amount"]) for i in items] == [
        ("Консультация и осмотр", None, 150000),
        ("Лечение кариеса, пломба", 16, 650000),
        ("Установка импланта", 36, 4900000),
    ]
    after = await client.get(
        f"/api/v1/me/referrals/{referral['id']}/teeth?phase=after", headers=patient.headers
    )
    conditions = {t["tooth"]: t["condition"] for t in after.json()["teeth"]}
    assert (conditions[16], conditions[36]) == ("filled", "implant")


async def test_bad_imports_are_refused_with_reasons(client, db):
    clinic = await make_clinic()
    ex = (await sign_in(client, await make_staff(Role.exchange_operator))).headers
    await client.put("/api/v1/exchange/prices", headers=ex, json={"entries": EXCHANGE_PRICES})
    base = {"patient": {"phone": PHONE}, "clinic_id": str(clinic)}

    unknown = {**ANALYSIS, "procedures": [{"code": "A16.07.999", "tooth": 16}]}
    answer = await client.post(
        "/api/v1/exchange/referrals/import", headers=ex, json={**base, "analysis": unknown}
    )
    assert answer.status_code == 422
    assert "A16.07.999" in answer.json()["detail"]

    bad_tooth = {**ANALYSIS, "findings": [{"tooth": 19, "code": "caries", "probability": 1}]}
    answer = await client.post(
        "/api/v1/exchange/referrals/import", headers=ex, json={**base, "analysis": bad_tooth}
    )
    assert answer.status_code == 422 and "19" in answer.json()["detail"]

    wrong_probability = {
        **ANALYSIS,
        "findings": [{"tooth": 16, "code": "caries", "probability": 3}],
    }
    answer = await client.post(
        "/api/v1/exchange/referrals/import",
        headers=ex,
        json={**base, "analysis": wrong_probability},
    )
    assert answer.status_code == 400 and "probability" in answer.text

    nowhere = await client.post(
        "/api/v1/exchange/referrals/import",
        headers=ex,
        json={**base, "clinic_id": "01a2b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b", "analysis": ANALYSIS},
    )
    assert nowhere.status_code == 404

    twice = await client.put(
        "/api/v1/exchange/prices",
        headers=ex,
        json={"entries": [EXCHANGE_PRICES[0], EXCHANGE_PRICES[0]]},
    )
    assert twice.status_code == 422 and "B01.065.001" in twice.json()["detail"]
    bad_condition = {**EXCHANGE_PRICES[1], "result_condition": "shiny"}
    answer = await client.put(
        "/api/v1/exchange/prices", headers=ex, json={"entries": [bad_condition]}
    )
    assert answer.status_code == 400
    # nothing was sent by the refused imports
    listed = await client.get("/api/v1/exchange/referrals", headers=ex)
    assert listed.json()["items"] == []


async def test_the_documented_example_imports_against_the_demo_price_list(client, db):
    guide = Path(__file__).parents[2] / "docs" / "plan-import.md"
    example = json.loads(re.findall(r"```json\n(.*?)```", guide.read_text(), flags=re.S)[0])
    await set_prices(None, price_list())
    clinic = await make_clinic()
    ex = (await sign_in(client, await make_staff(Role.exchange_operator))).headers
    answer = await client.post(
        "/api/v1/exchange/referrals/import?dry_run=1",
        headers=ex,
        json={"patient": {"phone": PHONE}, "clinic_id": str(clinic), "analysis": example},
    )
    assert answer.status_code == 200, answer.text
    plan = answer.json()["plan"]
    after = {t["tooth"]: t["condition"] for t in plan["teeth"] if t["phase"] == "after"}
    assert after == {16: "filled", 46: "crown", 36: "crown"}  # 27 is below 0.5
    assert len(plan["items"]) == 6 and len(plan["notes"]) == 1

"""The patient's export holds the plan's variants (what each is, pros and cons, the
explanations), which variant was chosen, by whom and when, and the clinics' call notes
about the patient: personal data about the subject, so part of a subject access request
(GDPR art. 15, 152-FZ art. 14; docs/privacy.md)."""

from datetime import datetime

from backend.domain.roles import Role
from tests.factories import make_clinic
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in
from tests.http.test_plan_variants import send_three_options

API = "/api/v1"
PHONE = "+79161280001"
NOTE = "Просила перезвонить после 18:00, сравнивает мост и имплант"


async def test_the_export_holds_the_variants_the_choice_and_the_call_notes(client, db):
    clinic_id = await make_clinic("Улыбка")
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    referral_id = await send_three_options(client, operator, clinic_id, PHONE, "Вера Экспортова")
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    noted = await client.post(
        f"{API}/clinic/referrals/{referral_id}/outcomes",
        headers=coordinator.headers,
        json={"outcome": "note", "note": NOTE},
    )
    assert noted.status_code == 200, noted.text
    # Another patient's note stays out.
    other_id = await send_three_options(client, operator, clinic_id, "+79161280002", "Другой")
    await client.post(
        f"{API}/clinic/referrals/{other_id}/outcomes",
        headers=coordinator.headers,
        json={"outcome": "note", "note": "Чужая заметка"},
    )

    patient = await patient_sign_in(client, PHONE)
    chose = await client.post(
        f"{API}/me/referrals/{referral_id}/variant", headers=patient.headers, json={"variant": "B"}
    )
    assert chose.status_code == 200, chose.text
    export = (await client.get(f"{API}/me/export", headers=patient.headers)).json()

    [plan] = export["plans"]
    assert [(v["variant"], v["title_ru"]) for v in plan["variants"]] == [
        ("A", "Имплантация"),
        ("B", "Мостовидный протез"),
        ("C", "Съёмный протез"),
    ]
    assert plan["variants"][1]["cons_ru"] == "Соседние зубы обтачиваются"
    bridge = next(e for e in plan["explanations"] if e["variant"] == "B")
    assert (bridge["visit"], bridge["problem_ru"], bridge["solution_ru"]) == (
        2,
        "Зубы 35 и 37 станут опорами",
        "Мост из трёх единиц",
    )
    assert bridge["item_id"] in {i["item_id"] for i in plan["items"] if i["variant"] == "B"}
    assert {e["variant"] for e in plan["explanations"]} >= {None, "B"}
    assert all(isinstance(e["specialists"], list) for e in plan["explanations"])
    assert {(t["tooth"], t["variant"]) for t in plan["teeth"] if t["phase"] == "after"} >= {
        (36, "A"),
        (36, "B"),
    }

    [choice] = export["variant_choices"]
    assert (choice["referral_id"], choice["variant"], choice["recorded_by"]) == (
        referral_id,
        "B",
        "patient",
    )
    assert choice["plan_version"] == 1 and datetime.fromisoformat(choice["chosen_at"])

    [note] = export["call_notes"]
    assert note["note"] == NOTE and note["outcome"] == "note"
    assert note["referral_id"] == referral_id and note["clinic_id"] == str(clinic_id)
    assert "staff" not in note and "staff_id" not in note  # the coordinator's own data

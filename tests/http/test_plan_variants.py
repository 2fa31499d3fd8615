"""Three options with explanations go from the exchange to the patient, who compares them
and chooses B; the clinic's card and list, the patient's progress and the funnel follow B;
a plan the clinic changes afterwards is put to the patient, who answers in the app."""

from datetime import timedelta

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from tests.factories import make_clinic
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in

API = "/api/v1"
PHONE = "+79163330019"

# Seed 004's three options for a missing 36: implant, bridge, removable denture.
THREE_OPTIONS = {
    "items": [
        {
            "specialization": "diagnostics",
            "price": 2_000_00,
            "title_ru": "Консультация и снимок",
            "title_en": "Consultation and X-ray",
            "stage": 1,
        },
        {
            "specialization": "implantology",
            "price": 65_000_00,
            "title_ru": "Имплант",
            "title_en": "Implant",
            "tooth": 36,
            "stage": 2,
            "variant": "A",
        },
        {
            "specialization": "orthopedics",
            "price": 30_000_00,
            "title_ru": "Коронка на имплант",
            "title_en": "Crown on the implant",
            "tooth": 36,
            "stage": 3,
            "variant": "A",
        },
        {
            "specialization": "orthopedics",
            "price": 48_000_00,
            "title_ru": "Мостовидный протез 35–37",
            "title_en": "Bridge 35–37",
            "tooth": 36,
            "stage": 2,
            "variant": "B",
            "course_days": 30,
        },
        {
            "specialization": "orthopedics",
            "price": 25_000_00,
            "title_ru": "Съёмный протез",
            "title_en": "Removable denture",
            "stage": 2,
            "variant": "C",
        },
    ],
    "teeth": [
        {"tooth": 36, "phase": "before", "condition": "missing"},
        {"tooth": 36, "phase": "after", "condition": "implant", "variant": "A"},
        {"tooth": 36, "phase": "after", "condition": "bridge", "variant": "B"},
        {"tooth": 35, "phase": "after", "condition": "crown", "variant": "B"},
        {"tooth": 37, "phase": "after", "condition": "crown", "variant": "B"},
    ],
    "variants": [
        {
            "variant": "A",
            "title_ru": "Имплантация",
            "title_en": "Implant",
            "pros_ru": "Соседние зубы не трогаем\nКак свой зуб",
            "cons_ru": "Около восьми месяцев",
        },
        {
            "variant": "B",
            "title_ru": "Мостовидный протез",
            "title_en": "Bridge",
            "pros_ru": "Быстро: за месяц",
            "cons_ru": "Соседние зубы обтачиваются",
        },
        {"variant": "C", "title_ru": "Съёмный протез", "title_en": "Removable denture"},
    ],
    "explanations": [
        {
            "stage": 1,
            "visit": 1,
            "problem_ru": "Нет зуба 36, соседние наклоняются",
            "solution_ru": "Снимок и план",
            "specialists": ["diagnostics"],
        },
        {
            "item": 1,
            "visit": 2,
            "problem_ru": "Кость держит имплант",
            "solution_ru": "Ставим имплант",
            "specialists": ["surgery", "implantology"],
        },
        {
            "variant": "B",
            "item": 3,
            "visit": 2,
            "problem_ru": "Зубы 35 и 37 станут опорами",
            "solution_ru": "Мост из трёх единиц",
            "specialists": ["orthopedics"],
        },
    ],
}


async def send_three_options(client, operator, clinic_id, phone: str, name: str = "") -> str:
    """The exchange sends THREE_OPTIONS to the clinic; the referral's id."""
    created = await client.post(
        f"{API}/exchange/referrals",
        headers=operator.headers,
        json={
            "patient": {"phone": phone, "name": name},
            "clinic_id": str(clinic_id),
            "plan": THREE_OPTIONS,
        },
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_three_options_go_to_the_patient_who_chooses_b_and_everything_follows(client, db):
    clinic_id = await make_clinic()
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    manager = await sign_in(client, await make_staff(Role.clinic_manager, clinic_id))

    referral_id = await send_three_options(client, operator, clinic_id, PHONE, "Мария")

    patient = await patient_sign_in(client, PHONE)
    screen = (await client.get(f"{API}/me/referrals/{referral_id}", headers=patient.headers)).json()
    options = {v["variant"]: v for v in screen["variants"]}
    assert list(options) == ["A", "B", "C"]
    assert options["A"]["title"] == "Вариант A: Имплантация"
    assert options["A"]["pros"] == ["Соседние зубы не трогаем", "Как свой зуб"]
    assert options["B"]["cons"] == ["Соседние зубы обтачиваются"]
    totals = {k: v["total"]["amount"] for k, v in options.items()}
    assert totals == {"A": 97_000_00, "B": 50_000_00, "C": 27_000_00}
    # Course length by the norms: diagnostics 1 day, then implantology 180 + orthopedics 60
    # for A; the bridge's own 30 days for B; orthopedics' 60 for C.
    assert {k: v["course_days"] for k, v in options.items()} == {"A": 241, "B": 31, "C": 61}
    # Each option's chart after: an implant, or a bridge on crowned neighbours.
    after = {
        k: {t["tooth"]: t["condition"] for t in v["after_chart"]["teeth"]}
        for k, v in options.items()
    }
    assert (after["A"][36], after["B"][36], after["B"][35], after["C"][36]) == (
        "implant",
        "bridge",
        "crown",
        "missing",
    )
    # Explanations: the common one in every option, the implant's in A, the bridge's in B.
    solutions = {k: [e["solution"] for e in v["explanations"]] for k, v in options.items()}
    assert solutions == {
        "A": ["Снимок и план", "Ставим имплант"],
        "B": ["Снимок и план", "Мост из трёх единиц"],
        "C": ["Снимок и план"],
    }
    b_expl = options["B"]["explanations"][1]
    assert b_expl["visit_label"] == "Приём 2" and b_expl["specialists"] == ["ортопедия"]
    assert b_expl["about"] == "Мостовидный протез 35–37 (зуб 36)"
    # Until the patient chooses, the plan counts the first option.
    assert screen["chosen_variant"] == "A" and screen["can_choose_variant"]
    assert screen["progress"]["money_total"]["amount"] == 97_000_00
    svg = await client.get(
        f"{API}/me/referrals/{referral_id}/teeth.svg?phase=after&variant=B",
        headers=patient.headers,
    )
    assert (
        svg.status_code == 200
        and 'data-tooth="36" data-kind="molar" data-condition="bridge"' in svg.text
    )

    refused = await client.post(
        f"{API}/me/referrals/{referral_id}/variant", headers=patient.headers, json={"variant": "D"}
    )
    assert refused.status_code == 422
    assert "not offered" in refused.json()["detail"]
    chose = await client.post(
        f"{API}/me/referrals/{referral_id}/variant", headers=patient.headers, json={"variant": "B"}
    )
    assert chose.status_code == 200, chose.text

    screen = (await client.get(f"{API}/me/referrals/{referral_id}", headers=patient.headers)).json()
    assert screen["chosen_variant"] == "B"
    assert screen["progress"]["money_total"]["amount"] == 50_000_00
    assert screen["progress"]["items_total"] == 2
    chosen = [v for v in screen["variants"] if v["counted"]]
    assert [(v["variant"], v["chosen_by"]) for v in chosen] == [("B", "patient")]
    assert chosen[0]["status_label"] == "Вы выбрали этот вариант"
    assert [i["title"] for s in screen["stages"] for i in s["items"]] == [
        "Консультация и снимок",
        "Мостовидный протез 35–37",
    ]

    # The clinic's card and list follow B.
    card = (
        await client.get(f"{API}/clinic/referrals/{referral_id}", headers=coordinator.headers)
    ).json()
    assert (card["chosen_variant"], card["variant_chosen_by"]) == ("B", "patient")
    assert card["money"]["planned"] == 50_000_00
    [plan] = card["plans"]
    assert plan["total"] == 50_000_00 and plan["chosen_variant"] == "B"
    assert [(v["variant"], v["total"], v["counted"]) for v in plan["variants"]] == [
        ("A", 97_000_00, False),
        ("B", 50_000_00, True),
        ("C", 27_000_00, False),
    ]
    rows = (await client.get(f"{API}/clinic/referrals", headers=coordinator.headers)).json()
    [row] = [r for r in rows["items"] if r["id"] == referral_id]
    assert (row["chosen_variant"], row["variant_chosen_by"]) == ("B", "patient")
    assert row["planned"]["amount"] == 50_000_00

    # The clinic works B: booked, came, the bridge done. The funnel counts B's money.
    now = utcnow()
    bridge = next(i for i in plan["items"] if i["variant"] == "B")
    for claim in (
        {
            "kind": "contacted",
            "outcome": "booked",
            "appointment_at": (now + timedelta(hours=1)).isoformat(),
        },
        {"kind": "visited"},
        {"kind": "item_done", "item_id": bridge["item_id"]},
    ):
        said = await client.post(
            f"{API}/clinic/referrals/{referral_id}/claims", headers=coordinator.headers, json=claim
        )
        assert said.status_code == 200, said.text
    funnel = (await client.get(f"{API}/clinic/funnel", headers=manager.headers)).json()
    assert funnel["in_money"] == 50_000_00
    assert funnel["accepted_money"] == 50_000_00
    assert funnel["executed_money"] == 48_000_00
    assert funnel["reserve_money"] == 2_000_00
    screen = (await client.get(f"{API}/me/referrals/{referral_id}", headers=patient.headers)).json()
    assert screen["progress"]["percent_money"] == 96  # 48 000 of 50 000

    # The clinic changes the plan after the patient's choice: the patient is asked.
    revised_items = [
        {
            k: v
            for k, v in i.items()
            if k in ("item_id", "title_ru", "specialization", "tooth", "stage", "variant", "price")
        }
        for i in plan["items"]
    ]
    for i in revised_items:
        if i["variant"] == "B":
            i["price"] = 52_000_00
    put = await client.put(
        f"{API}/clinic/referrals/{referral_id}/plan",
        headers=coordinator.headers,
        json={"reason": "Мост из диоксида циркония", "items": revised_items},
    )
    assert put.status_code == 200, put.text
    screen = (await client.get(f"{API}/me/referrals/{referral_id}", headers=patient.headers)).json()
    assert screen["chosen_variant"] == "B"  # the choice stands: the new plan still offers B
    [question] = [q for q in screen["questions"] if q["kind"] == "confirm_plan"]
    assert question["text"].startswith("«Улыбка» изменила ваш план лечения")
    plan_state = {m["milestone"]: m["state"] for m in screen["milestones"]}["plan"]
    assert plan_state == "needs_your_answer"
    answered = await client.post(
        f"{API}/me/questions/{question['id']}/answer",
        headers=patient.headers,
        json={"answer": "yes"},
    )
    assert answered.status_code == 200, answered.text
    card = (
        await client.get(f"{API}/clinic/referrals/{referral_id}", headers=coordinator.headers)
    ).json()
    assert {v["milestone"]: v["state"] for v in card["verifications"]}["plan"] == "verified"
    assert card["money"]["planned"] == 54_000_00


async def test_a_patient_who_says_no_to_the_changed_plan_goes_to_the_exchange(client, db):
    clinic_id = await make_clinic()
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    referral_id = await send_three_options(client, operator, clinic_id, PHONE)
    patient = await patient_sign_in(client, PHONE)
    await client.post(
        f"{API}/me/referrals/{referral_id}/variant", headers=patient.headers, json={"variant": "C"}
    )
    card = (
        await client.get(f"{API}/clinic/referrals/{referral_id}", headers=coordinator.headers)
    ).json()
    # The clinic drops C altogether: the plan falls back to the first option it offers.
    items = [
        {k: i[k] for k in ("item_id", "title_ru", "specialization", "stage", "variant", "price")}
        for i in card["plans"][0]["items"]
        if i["variant"] != "C"
    ]
    put = await client.put(
        f"{API}/clinic/referrals/{referral_id}/plan",
        headers=coordinator.headers,
        json={"reason": "Съёмные протезы не делаем", "items": items},
    )
    assert put.status_code == 200, put.text
    screen = (await client.get(f"{API}/me/referrals/{referral_id}", headers=patient.headers)).json()
    assert screen["chosen_variant"] == "A"
    [question] = [q for q in screen["questions"] if q["kind"] == "confirm_plan"]
    no = await client.post(
        f"{API}/me/questions/{question['id']}/answer",
        headers=patient.headers,
        json={"answer": "no"},
    )
    assert no.status_code == 200
    disputes = (await client.get(f"{API}/exchange/disputes", headers=operator.headers)).json()
    assert [(d["milestone"], d["state"]) for d in disputes["items"]] == [("plan", "disputed")]
    # Choosing again answers the change too: agreeing with the new plan as it stands.
    again = await client.post(
        f"{API}/me/referrals/{referral_id}/variant", headers=patient.headers, json={"variant": "B"}
    )
    assert again.status_code == 200
    card = (
        await client.get(f"{API}/clinic/referrals/{referral_id}", headers=coordinator.headers)
    ).json()
    assert {v["milestone"]: v["state"] for v in card["verifications"]}["plan"] == "verified"
    assert card["chosen_variant"] == "B"


async def test_a_clinic_that_hides_prices_shows_its_patients_no_money(client, db):
    clinic_id = await make_clinic()
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    manager = await sign_in(client, await make_staff(Role.clinic_manager, clinic_id))
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    referral_id = await send_three_options(client, operator, clinic_id, PHONE)
    setting = f"{API}/clinic/settings/patient-prices"
    assert (await client.get(setting, headers=coordinator.headers)).json() == {"show_prices": True}
    refused = await client.put(setting, headers=coordinator.headers, json={"show_prices": False})
    assert refused.status_code == 403
    hidden = await client.put(setting, headers=manager.headers, json={"show_prices": False})
    assert hidden.json() == {"show_prices": False}
    # Like every clinic setting, the change is in the audit log, once (saving it unchanged
    # again is no change).
    await client.put(setting, headers=manager.headers, json={"show_prices": False})
    audit = await client.get(
        f"{API}/exchange/audit", headers=operator.headers, params={"object_id": str(clinic_id)}
    )
    changes = [e["details"] for e in audit.json()["items"] if e["action"] == "change_settings"]
    assert changes == [{"show_prices_to_patients": {"from": True, "to": False}}]

    patient = await patient_sign_in(client, PHONE)
    screen = await client.get(f"{API}/me/referrals/{referral_id}", headers=patient.headers)
    body = screen.json()
    assert body["prices_shown"] is False
    assert [v["total"] for v in body["variants"]] == [None, None, None]
    assert {i["price"] for v in body["variants"] for i in v["items"]} == {None}
    assert {i["price"] for s in body["stages"] for i in s["items"]} == {None}
    assert body["progress"]["money_total"] is None
    assert "₽" not in screen.text
    # Still the options, their length and explanations: only the money is left out.
    assert [v["course_days"] for v in body["variants"]] == [241, 31, 61]
    listed = (await client.get(f"{API}/me/referrals", headers=patient.headers)).json()
    assert listed["items"][0]["money_total"] is None

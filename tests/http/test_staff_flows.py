"""The clinic's and the exchange's work over their APIs, end to end."""

import io
from datetime import timedelta

from PIL import Image

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.store import parties
from tests.factories import make_clinic, make_referral
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import PASSWORD, Staff, make_staff, sign_in

PHONE = "+79161234567"


async def test_exchange_sends_clinic_works_patient_disputes_exchange_rules(client, db):
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    ex = operator.headers

    # The exchange adds a clinic and its coordinator.
    created = await client.post(
        "/api/v1/exchange/clinics",
        headers=ex,
        json={
            "name": "Улыбка",
            "city": "Москва",
            "timezone": "Europe/Moscow",
            "phone": "+7 495 123-45-67",
            "first_contact_sla_minutes": 120,
        },
    )
    assert created.status_code == 201, created.text
    clinic_id = created.json()["id"]
    assert created.json()["phone"] == "+74951234567"
    bad_tz = await client.post(
        "/api/v1/exchange/clinics",
        headers=ex,
        json={"name": "X", "city": "Y", "timezone": "Mars/Olympus"},
    )
    assert bad_tz.status_code == 422
    made = await client.post(
        "/api/v1/exchange/staff",
        headers=ex,
        json={
            "email": "coord@clinic.ru",
            "role": "clinic_coordinator",
            "password": PASSWORD,
            "clinic_id": clinic_id,
        },
    )
    assert made.status_code == 201 and made.json()["totp_uri"].startswith("otpauth://totp/")
    assert made.json()["totp_qr_svg"].startswith("<?xml") or "<svg" in made.json()["totp_qr_svg"]

    # It sends a patient with an estimated plan; the same order id twice is one referral.
    body = {
        "patient": {"phone": "8 (916) 123-45-67", "name": "Анна Иванова"},
        "clinic_id": clinic_id,
        "plan": {
            "items": [
                {"specialization": "therapy", "price": 650000, "title_ru": "Пломба", "tooth": 16},
                {"specialization": "hygiene", "price": 750000, "title_ru": "Гигиена"},
            ],
            "teeth": [{"tooth": 16, "phase": "before", "condition": "caries"}],
        },
    }
    sent = await client.post(
        "/api/v1/exchange/referrals", headers={**ex, "Idempotency-Key": "order-1"}, json=body
    )
    again = await client.post(
        "/api/v1/exchange/referrals", headers={**ex, "Idempotency-Key": "order-1"}, json=body
    )
    assert sent.status_code == 201 and again.json()["duplicate"]
    rid = sent.json()["id"]
    assert again.json()["id"] == rid
    picture = io.BytesIO()
    Image.new("RGB", (40, 30)).save(picture, format="PNG")
    upload = await client.post(
        f"/api/v1/exchange/referrals/{rid}/media",
        headers=ex,
        files={"file": ("x.png", picture.getvalue(), "image/png")},
        data={"kind": "xray", "phase": "before"},
    )
    assert upload.status_code == 201, upload.text

    # The coordinator works it: received, booked, visited, first item done, paid.
    row = await parties.staff_by_email("coord@clinic.ru")
    coord = await sign_in(
        client,
        Staff(
            email="coord@clinic.ru",
            role=Role.clinic_coordinator,
            clinic_id=row.clinic,
            secret=row.totp_secret,
        ),
    )
    h = coord.headers
    found = (await client.get("/api/v1/clinic/referrals?q=анна", headers=h)).json()["items"]
    assert [r["id"] for r in found] == [rid]
    by_phone = (await client.get("/api/v1/clinic/referrals?q=916 123", headers=h)).json()
    assert len(by_phone["items"]) == 1
    card = (await client.get(f"/api/v1/clinic/referrals/{rid}", headers=h)).json()
    filling = next(i for i in card["plans"][0]["items"] if i["tooth"] == 16)
    when = (utcnow() + timedelta(days=1)).replace(microsecond=0).isoformat()
    steps = [
        {"kind": "received"},
        {"kind": "contacted", "outcome": "booked", "appointment_at": when},
        {"kind": "visited"},
        {"kind": "item_done", "item_id": filling["item_id"]},
        {"kind": "payment", "amount": 650000},
    ]
    for claim in steps:
        r = await client.post(f"/api/v1/clinic/referrals/{rid}/claims", headers=h, json=claim)
        assert r.status_code == 200, (claim, r.text)
    assert r.json()["step"] == "in_treatment"
    retry = await client.post(
        f"/api/v1/clinic/referrals/{rid}/claims",
        headers={**h, "Idempotency-Key": "k-1"},
        json={"kind": "visited"},
    )
    retry2 = await client.post(
        f"/api/v1/clinic/referrals/{rid}/claims",
        headers={**h, "Idempotency-Key": "k-1"},
        json={"kind": "visited"},
    )
    assert retry2.json()["duplicate"] and retry2.json()["event_id"] == retry.json()["event_id"]
    wrong = await client.post(
        f"/api/v1/clinic/referrals/{rid}/claims",
        headers=h,
        json={"kind": "contacted", "outcome": "booked"},
    )
    assert wrong.status_code == 422  # a booking needs its time
    unknown = await client.post(
        f"/api/v1/clinic/referrals/{rid}/claims", headers=h, json={"kind": "teleported"}
    )
    assert unknown.status_code == 400
    plan = await client.put(
        f"/api/v1/clinic/referrals/{rid}/plan",
        headers=h,
        json={
            "reason": "Добавили снимок",
            "items": [
                {
                    "item_id": filling["item_id"],
                    "specialization": "therapy",
                    "price": 650000,
                    "title_ru": "Пломба",
                    "tooth": 16,
                },
                {"specialization": "diagnostics", "price": 150000, "title_ru": "Снимок"},
            ],
        },
    )
    assert plan.status_code == 200 and plan.json()["version"] == 2
    code = await client.post(f"/api/v1/clinic/referrals/{rid}/visit-code", headers=h)
    assert len(code.json()["code"]) == 6 and "<svg" in code.json()["qr_svg"]
    timeline = (await client.get(f"/api/v1/clinic/referrals/{rid}/timeline", headers=h)).json()
    kinds = [e["kind"] for e in timeline["items"]]
    assert kinds[:2] == ["plan_set", "sent"] and "payment" in kinds

    # The patient says the procedure was not done: a dispute for the exchange.
    patient = await patient_sign_in(client, PHONE)
    questions = (await client.get("/api/v1/me/questions", headers=patient.headers)).json()
    item_q = next(q for q in questions["items"] if q["kind"] == "confirm_item")
    await client.post(
        f"/api/v1/me/questions/{item_q['id']}/answer",
        headers=patient.headers,
        json={"answer": "no", "note": "Пломбу не ставили"},
    )
    disputes = (await client.get("/api/v1/exchange/disputes", headers=ex)).json()["items"]
    [dispute] = [d for d in disputes if d["milestone"].startswith("item:")]
    assert dispute["patient_word"]["note"] == "Пломбу не ставили"
    assert dispute["clinic_claim"]["kind"] == "item_done"
    no_note = await client.post(
        f"/api/v1/exchange/disputes/{dispute['id']}/resolution",
        headers=ex,
        json={"outcome": "did_not_happen", "note": " "},
    )
    assert no_note.status_code == 422
    ruled = await client.post(
        f"/api/v1/exchange/disputes/{dispute['id']}/resolution",
        headers=ex,
        json={"outcome": "did_not_happen", "note": "Клиника подтвердила ошибку"},
    )
    assert ruled.status_code == 200
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    assert card["money"]["executed"] == 0  # the ruling set the claim aside
    assert not [
        d
        for d in (await client.get("/api/v1/exchange/disputes", headers=ex)).json()["items"]
        if d["referral_id"] == rid and d["milestone"].startswith("item:")
    ]

    # Scorecards, funnel, audit.
    cards = (await client.get("/api/v1/exchange/scorecards", headers=ex)).json()["items"]
    mine = next(c for c in cards if c["clinic_id"] == clinic_id)
    assert mine["referrals"] == 1 and mine["first_contact_hours_clinic"] is not None
    funnel = (await client.get(f"/api/v1/exchange/funnel?clinic_id={clinic_id}", headers=ex)).json()
    assert funnel["in_count"] == 1 and funnel["in_money"] == 1_400_000
    assert funnel["paid_money"] == 650_000 and len(funnel["months"]) == 6
    audit = (await client.get(f"/api/v1/exchange/audit?actor=staff:{row.id}", headers=ex)).json()[
        "items"
    ]
    assert {"view_referral", "list_referrals"} <= {a["action"] for a in audit}
    assert all(a["ip"] for a in audit)

    # A transfer moves what is left to another clinic.
    other = await make_clinic("Другая")
    moved = await client.post(
        f"/api/v1/exchange/referrals/{rid}/transfer",
        headers=ex,
        json={"clinic_id": str(other), "reason": "Переезд"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["moved_items"] == 2  # the clinic's plan: the voided filling, the X-ray
    old = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    new = (
        await client.get(
            f"/api/v1/exchange/referrals/{moved.json()['new_referral_id']}", headers=ex
        )
    ).json()
    assert old["step"] == "transferred" and new["transferred_from"] == rid
    assert new["money"]["planned"] == moved.json()["moved_money"]
    twice = await client.post(
        f"/api/v1/exchange/referrals/{rid}/transfer",
        headers=ex,
        json={"clinic_id": str(other), "reason": "again"},
    )
    assert twice.status_code in (404, 409)


async def test_manager_sees_funnel_ratings_and_nobody_called(client, db):
    clinic = await make_clinic()
    manager = await sign_in(client, await make_staff(Role.clinic_manager, clinic))
    sent = await make_referral(clinic, phone=PHONE, at=utcnow() - timedelta(hours=30))
    patient = await patient_sign_in(client, PHONE)
    await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/contact-rating",
        headers=patient.headers,
        json={"called": False, "stars": 1, "comment": "Никто не позвонил"},
    )
    ratings = (await client.get("/api/v1/clinic/ratings", headers=manager.headers)).json()
    assert ratings["items"][0]["comment"] == "Никто не позвонил"
    nobody = (await client.get("/api/v1/clinic/nobody-called", headers=manager.headers)).json()
    assert [r["patient_phone"] for r in nobody["items"]] == [PHONE]
    funnel = (await client.get("/api/v1/clinic/funnel", headers=manager.headers)).json()
    assert funnel["reserve_count"] == 1 and funnel["currency"] == "RUB"

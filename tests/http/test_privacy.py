"""A patient exports everything held about them and has it erased: the export is theirs
alone; erasure removes what identifies them and ends their sessions, while the ledger
and every figure the clinic and the exchange see stay exactly as they were."""

from datetime import timedelta

import msgspec

from backend.domain.events import ItemDone, Payment
from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.services.recording import record
from backend.store import plans
from backend.store.tables import ContactRating, Device, Event, Patient, PatientSession
from tests.factories import PLAN, book, clinic_says, make_clinic, make_referral
from tests.http.patient_client import SignedIn, firebase_token
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.problems import assert_problem
from tests.http.staff_client import make_staff, sign_in

A_PHONE, A_NAME = "+79161112233", "Анна Иванова"
B_PHONE, B_NAME = "+79164445566", "Борис Петров"
A_NOTE, A_COMMENT, A_REPORT = "Звонила Мария, всё ок", "Вежливо и быстро", "Записали на пятницу"
B_NOTE = "Мне не звонили вообще"
A_TOKEN, B_TOKEN = "fcm-token-of-anna-0123456789", "fcm-token-of-boris-0123456789"


async def _patient_with_history(client, clinic, phone, name, note, token) -> tuple:
    """A referral worked by the clinic, and a patient who answered, rated and reported."""
    now = utcnow()
    sent = await make_referral(clinic, phone, at=now - timedelta(hours=5), name=name)
    await book(sent.referral_id, now + timedelta(days=2), occurred_at=now - timedelta(hours=4))
    me = await patient_sign_in(client, phone, invite_code=sent.invite_code)
    h = me.headers
    device = await client.put(
        "/api/v1/me/devices", headers=h, json={"token": token, "platform": "android"}
    )
    assert device.status_code == 200
    questions = (await client.get("/api/v1/me/questions", headers=h)).json()["items"]
    call = next(q for q in questions if q["kind"] == "confirm_contact")
    answered = await client.post(
        f"/api/v1/me/questions/{call['id']}/answer", headers=h, json={"answer": "yes", "note": note}
    )
    assert answered.status_code == 200, answered.text
    return sent, me


async def _reports(client, manager, analyst, health) -> dict:
    """Every figure built from the ledger, as each reader gets it."""
    urls = [
        (manager, "/api/v1/clinic/funnel"),
        (manager, "/api/v1/clinic/funnel/cohorts"),
        (manager, "/api/v1/clinic/funnel/plan-vs-fact"),
        (manager, "/api/v1/clinic/funnel/specializations"),
        (analyst, "/api/v1/exchange/funnel"),
        (analyst, "/api/v1/exchange/scorecards"),
        (health, "/api/v1/health/aggregates"),
    ]
    out = {}
    for staff, url in urls:
        response = await client.get(url, headers=staff.headers)
        assert response.status_code == 200, (url, response.text)
        out[url] = response.json()
    return out


async def _setup(client):
    clinic = await make_clinic()
    a_sent, a = await _patient_with_history(client, clinic, A_PHONE, A_NAME, A_NOTE, A_TOKEN)
    b_sent, b = await _patient_with_history(client, clinic, B_PHONE, B_NAME, B_NOTE, B_TOKEN)
    rid = a_sent.referral_id
    rated = await client.post(
        f"/api/v1/me/referrals/{rid}/contact-rating",
        headers=a.headers,
        json={"called": True, "stars": 4, "comment": A_COMMENT},
    )
    reported = await client.post(
        f"/api/v1/me/referrals/{rid}/reports",
        headers=a.headers,
        json={"kind": "booked", "note": A_REPORT},
    )
    assert rated.status_code == reported.status_code == 200
    filling = (await plans.items_of((await plans.versions_of(rid))[0].id))[0]
    await record(rid, clinic_says(ItemDone(item_id=filling.item_id)))
    await record(rid, clinic_says(Payment(amount=filling.price)))
    return clinic, (a_sent, a), (b_sent, b)


async def test_export_holds_the_patients_data_and_nothing_of_another(client, db):
    clinic, (a_sent, a), (b_sent, b) = await _setup(client)
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))
    card = await client.get(
        f"/api/v1/clinic/referrals/{a_sent.referral_id}", headers=coordinator.headers
    )
    assert card.status_code == 200

    response = await client.get("/api/v1/me/export", headers=a.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    text = response.text
    export = response.json()
    assert export["profile"]["phone"] == A_PHONE and export["profile"]["name"] == A_NAME
    assert export["profile"]["id"] == a.patient_id
    assert [r["id"] for r in export["referrals"]] == [str(a_sent.referral_id)]
    assert {p["referral_id"] for p in export["plans"]} == {str(a_sent.referral_id)}
    assert len(export["plans"][0]["items"]) == 2 and len(export["plans"][0]["teeth"]) == 4
    assert len(export["appointments"]) == 1
    assert {q["kind"] for q in export["answers"]} >= {"confirm_contact", "confirm_booking"}
    notes = {s["body"].get("note") for s in export["statements"]}
    assert {A_NOTE, A_REPORT} <= notes
    assert export["contact_ratings"][0]["comment"] == A_COMMENT
    assert [d["token"] for d in export["devices"]] == [A_TOKEN]
    assert len(export["sessions"]) == 1
    assert export["consents"]["notifications"]["questions"] is True
    assert [x["action"] for x in export["staff_access"]] == ["view_referral"]
    # Not a trace of the other patient.
    for theirs in (B_PHONE, B_NAME, B_NOTE, B_TOKEN, str(b_sent.referral_id), b.patient_id):
        assert theirs not in text
    assert (await client.get("/api/v1/me/export")).status_code == 401


async def test_erasure_needs_the_word(client, db):
    _, (_, a), _ = await _setup(client)
    for body in ({"confirm": "yes"}, {"confirm": "ERASE "}, {}, {"confirm": "erase", "x": 1}):
        refused = await client.post("/api/v1/me/erasure", headers=a.headers, json=body)
        assert_problem(refused, 400, body)
    said = (
        await client.post("/api/v1/me/erasure", headers=a.headers, json={"confirm": "no"})
    ).json()
    assert "Отменить удаление нельзя" in said["detail"]  # the patient's language, ru
    row = await Patient.select().where(Patient.phone == A_PHONE).first()
    assert row is not None and row["erased_at"] is None


async def test_erasure_anonymises_and_keeps_every_figure(client, db):
    clinic, (a_sent, a), (b_sent, b) = await _setup(client)
    manager = await sign_in(client, await make_staff(Role.clinic_manager, clinic))
    analyst = await sign_in(client, await make_staff(Role.exchange_analyst))
    health = await sign_in(client, await make_staff(Role.health_analyst))
    before = await _reports(client, manager, analyst, health)
    funnel = before["/api/v1/clinic/funnel"]
    assert funnel["in_count"] == 2 and funnel["paid_money"] == PLAN.items[0].price
    ledger_before = await Event.select(Event.id, Event.kind, Event.referral).order_by(Event.id)
    changed = await client.patch("/api/v1/me", headers=a.headers, json={"locale": "en"})
    assert changed.status_code == 200

    erased = await client.post("/api/v1/me/erasure", headers=a.headers, json={"confirm": "erase"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["status"] == "erased"
    assert erased.json()["message"].startswith("Your data has been erased")

    # Every figure, and the ledger, as before.
    assert await _reports(client, manager, analyst, health) == before
    ledger_after = await Event.select(Event.id, Event.kind, Event.referral).order_by(Event.id)
    assert ledger_after == ledger_before and len(ledger_after) > 0

    # The old session is over, and the phone no longer signs in.
    assert (await client.get("/api/v1/me", headers=a.headers)).status_code == 401
    assert (await client.get("/api/v1/me/export", headers=a.headers)).status_code == 401
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh})
    assert refreshed.status_code == 401
    for invite in (None, a_sent.invite_code):
        again = await client.post(
            "/api/v1/auth/patient",
            json={"firebase_id_token": firebase_token(A_PHONE), "invite_code": invite},
        )
        assert again.status_code == 403, again.text

    # What identified the patient is gone from every table that held it.
    row = await Patient.select().where(Patient.id == a_sent.patient_id).first()
    assert row["name"] == row["search_key"] == "" and row["phone"] != A_PHONE
    assert row["firebase_uid"] is None and row["erased_at"] is not None
    [device] = await Device.select().where(Device.patient == a_sent.patient_id)
    assert device["token"] != A_TOKEN and not device["active"]
    sessions = await PatientSession.select().where(PatientSession.patient == a_sent.patient_id)
    assert sessions and all(s["revoked_at"] is not None for s in sessions)
    rating = await ContactRating.select().where(ContactRating.referral == a_sent.referral_id)
    assert rating[0]["comment"] == "" and rating[0]["stars"] == 4
    payloads = {r["referral"]: [] for r in ledger_after}
    for r in await Event.select(Event.referral, Event.payload):
        payloads[r["referral"]].append(msgspec.json.decode(r["payload"]))
    a_text = msgspec.json.encode(payloads[a_sent.referral_id]).decode()
    for gone in (A_NOTE, A_COMMENT, A_REPORT, A_PHONE, A_NAME):
        assert gone not in a_text
    assert B_NOTE in msgspec.json.encode(payloads[b_sent.referral_id]).decode()

    # Staff still work the referral, without the patient's name or phone.
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))
    card = await client.get(
        f"/api/v1/clinic/referrals/{a_sent.referral_id}", headers=coordinator.headers
    )
    assert card.status_code == 200
    assert A_PHONE not in card.text and A_NAME not in card.text
    found = await client.get("/api/v1/clinic/referrals?q=анна", headers=coordinator.headers)
    assert found.json()["items"] == []

    # The other patient is untouched.
    assert (await client.get("/api/v1/me", headers=b.headers)).json()["phone"] == B_PHONE
    b_export = (await client.get("/api/v1/me/export", headers=b.headers)).json()
    assert B_NOTE in {s["body"].get("note") for s in b_export["statements"]}


async def test_an_erased_phone_can_be_referred_again_as_a_new_patient(client, db):
    clinic, (a_sent, a), _ = await _setup(client)
    await client.post("/api/v1/me/erasure", headers=a.headers, json={"confirm": "erase"})
    again = await make_referral(clinic, A_PHONE, at=utcnow(), name=A_NAME)
    assert again.patient_id != a_sent.patient_id
    fresh: SignedIn = await patient_sign_in(client, A_PHONE)
    export = (await client.get("/api/v1/me/export", headers=fresh.headers)).json()
    assert [r["id"] for r in export["referrals"]] == [str(again.referral_id)]
    assert export["statements"] == [] and export["contact_ratings"] == []

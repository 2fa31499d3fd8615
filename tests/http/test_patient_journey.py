"""The patient app's whole journey over HTTP, and a second patient who can see none of it."""

from datetime import timedelta

from backend.domain.events import ItemDone, Payment
from backend.runtime.clock import utcnow
from backend.services.recording import record
from backend.services.visit_codes import issue_code
from backend.store import plans
from tests.factories import book, clinic_says, make_clinic, make_referral
from tests.http.patient_client import firebase_token, sign_in
from tests.http.problems import assert_problem
from tests.pictures import attach_picture

PHONE_A, PHONE_B = "+79161234567", "+79167654321"


async def test_patient_journey(client, db):
    now = utcnow()
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE_A, at=now - timedelta(hours=3))
    appointment_at = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    await book(sent.referral_id, appointment_at, occurred_at=now - timedelta(hours=1))
    picture = await attach_picture(db, sent.referral_id, kind="xray", caption="ОПТГ")

    # Sign in with the invite link's code and the phone Firebase verified.
    me = await sign_in(client, PHONE_A, invite_code=sent.invite_code)
    h = me.headers
    profile = (await client.get("/api/v1/me", headers=h)).json()
    assert profile["phone"] == PHONE_A and profile["quiet_hours"]["start"] == "21:00:00"
    changed = await client.patch(
        "/api/v1/me", headers=h, json={"locale": "en", "notifications": {"news": True}}
    )
    assert changed.status_code == 200 and changed.json()["locale"] == "en"
    assert changed.json()["notifications"] == {"questions": True, "reminders": True, "news": True}
    device = await client.put(
        "/api/v1/me/devices",
        headers=h,
        json={
            "token": "fcm-token-of-patient-a-0123456789",
            "platform": "android",
            "app_version": "1.0.0",
            "locale": "en",
        },
    )
    assert device.status_code == 200 and device.json()["active"]

    # The list, then the plan screen.
    listing = (await client.get("/api/v1/me/referrals", headers=h)).json()
    assert [r["id"] for r in listing["items"]] == [str(sent.referral_id)]
    assert listing["items"][0]["open_questions"] == 2
    screen = (await client.get(f"/api/v1/me/referrals/{sent.referral_id}", headers=h)).json()
    assert screen["step"] == "booked" and screen["step_label"] == "You are booked"
    assert screen["clinic"]["phone"] == "+74951234567"
    assert screen["progress"]["money_total"] == {
        "amount": 71_500_00,
        "currency": "RUB",
        "formatted": "₽71,500",
    }
    assert screen["progress"]["percent_money"] == 0
    assert [st["stage"] for st in screen["stages"]] == [1, 2]
    assert screen["stages"][0]["items"][0]["tooth"] == 16
    assert screen["plan_comparison"]["actual_total"] is None
    [appt] = screen["appointments"]
    assert appt["can_respond"] and appt["patient_status"] == "needs-action"
    assert screen["sent_at"].endswith("+03:00")  # the patient's own offset
    assert {m["milestone"]: m["state"] for m in screen["milestones"]}[
        "contacted"
    ] == "needs_your_answer"

    # Answer the questions: confirm the call; confirm the appointment in the app.
    questions = (await client.get("/api/v1/me/questions", headers=h)).json()["items"]
    assert {q["kind"] for q in questions} == {"confirm_contact", "confirm_booking"}
    call = next(q for q in questions if q["kind"] == "confirm_contact")
    assert "Улыбка" in call["text"] and call["answers"][0]["label"] == "Yes"
    answered = await client.post(
        f"/api/v1/me/questions/{call['id']}/answer", headers=h, json={"answer": "yes"}
    )
    assert answered.status_code == 200 and not answered.json()["duplicate"]
    again = await client.post(
        f"/api/v1/me/questions/{call['id']}/answer", headers=h, json={"answer": "no"}
    )
    assert again.status_code == 409
    confirmed = await client.post(
        f"/api/v1/me/appointments/{appt['id']}/response", headers=h, json={"response": "confirm"}
    )
    assert confirmed.status_code == 200
    screen = (await client.get(f"/api/v1/me/referrals/{sent.referral_id}", headers=h)).json()
    states = {m["milestone"]: m["state"] for m in screen["milestones"]}
    assert states["contacted"] == states["booked"] == "confirmed"
    assert screen["appointments"][0]["patient_status"] == "accepted"

    # At reception: a wrong code, then the right one co-signs the visit.
    code = await issue_code(sent.referral_id, secret=db.secret_key, issued_by="staff:test")
    wrong = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/visit-code",
        headers=h,
        json={"code": "000000" if code.code != "000000" else "111111"},
    )
    assert wrong.status_code == 422
    right = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/visit-code", headers=h, json={"code": code.code}
    )
    assert right.status_code == 200 and right.json()["step"] == "visited"
    reused = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/visit-code", headers=h, json={"code": code.code}
    )
    assert reused.status_code == 422

    # Rate the contact; report; the clinic does a procedure and takes payment; a receipt.
    rating = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/contact-rating",
        headers=h,
        json={"called": True, "stars": 5, "comment": "ok"},
    )
    assert rating.status_code == 200
    reported = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/reports", headers=h, json={"kind": "contacted"}
    )
    assert reported.status_code == 200
    version = (await plans.versions_of(sent.referral_id))[0]
    filling = (await plans.items_of(version.id))[0]
    paid_at = utcnow() - timedelta(minutes=30)
    await record(sent.referral_id, clinic_says(ItemDone(item_id=filling.item_id)))
    await record(sent.referral_id, clinic_says(Payment(amount=6_500_00), occurred_at=paid_at))
    stamp = paid_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Moscow"))
    qr = f"t={stamp:%Y%m%dT%H%M}&s=6500.00&fn=9960440300000001&i=1234&fp=2840123456&n=1"
    receipt = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/receipts", headers=h, json={"qr": qr}
    )
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["match"] == "matches"
    assert receipt.json()["amount"]["formatted"] == "₽6,500"
    bad_receipt = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/receipts", headers=h, json={"qr": "hello, world"}
    )
    assert bad_receipt.status_code == 422

    screen = (await client.get(f"/api/v1/me/referrals/{sent.referral_id}", headers=h)).json()
    assert screen["step"] == "in_treatment"
    assert screen["progress"]["percent_items"] == 50 and screen["progress"]["percent_money"] == 9
    assert screen["stages"][0]["items"][0]["status"] == "completed"

    # The chart, as SVG and as data; the pictures through signed URLs.
    svg = await client.get(
        f"/api/v1/me/referrals/{sent.referral_id}/teeth.svg?phase=now", headers=h
    )
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.count('class="tooth"') == 32
    chart = (
        await client.get(f"/api/v1/me/referrals/{sent.referral_id}/teeth?phase=now", headers=h)
    ).json()
    tooth16 = next(t for t in chart["teeth"] if t["tooth"] == 16)
    assert (tooth16["condition"], tooth16["done"]) == ("filled", True)
    media = (await client.get(f"/api/v1/me/referrals/{sent.referral_id}/media", headers=h)).json()[
        "items"
    ]
    assert [m["id"] for m in media] == [str(picture)]
    image = await client.get(media[0]["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
    url = media[0]["url"]
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert (await client.get(tampered)).status_code == 404
    one = await client.get(f"/api/v1/me/media/{picture}", headers=h)
    assert one.status_code == 200 and one.json()["kind"] == "xray"

    # Refresh rotates; reusing a spent refresh token ends the whole session.
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": me.refresh})
    assert rotated.status_code == 200
    new = rotated.json()
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": me.refresh})
    assert reuse.status_code == 401
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
    ).status_code == 401
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {new['access_token']}"})
    ).status_code == 401

    # A fresh sign-in, then log out: the access token stops at once.
    again = await sign_in(client, PHONE_A)
    assert (await client.get("/api/v1/me", headers=again.headers)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=again.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=again.headers)).status_code == 401
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": again.refresh})
    ).status_code == 401


async def test_second_patient_gets_404_on_every_id_of_the_first(client, db):
    now = utcnow()
    clinic = await make_clinic()
    first = await make_referral(clinic, phone=PHONE_A, at=now - timedelta(hours=3))
    await make_referral(clinic, phone=PHONE_B, at=now - timedelta(hours=3))
    await book(first.referral_id, now + timedelta(days=1))
    picture = await attach_picture(db, first.referral_id)
    a = await sign_in(client, PHONE_A)
    await client.put(
        "/api/v1/me/devices",
        headers=a.headers,
        json={"token": "fcm-token-of-patient-a-0123456789", "platform": "ios"},
    )
    screen = (
        await client.get(f"/api/v1/me/referrals/{first.referral_id}", headers=a.headers)
    ).json()
    question_id = screen["questions"][0]["id"]
    appointment_id = screen["appointments"][0]["id"]
    rid = first.referral_id

    b = await sign_in(client, PHONE_B)
    attempts = [
        ("GET", f"/api/v1/me/referrals/{rid}", None),
        ("GET", f"/api/v1/me/referrals/{rid}/teeth.svg", None),
        ("GET", f"/api/v1/me/referrals/{rid}/teeth", None),
        ("GET", f"/api/v1/me/referrals/{rid}/media", None),
        ("GET", f"/api/v1/me/media/{picture}", None),
        ("POST", f"/api/v1/me/questions/{question_id}/answer", {"answer": "no"}),
        ("POST", f"/api/v1/me/appointments/{appointment_id}/response", {"response": "decline"}),
        ("POST", f"/api/v1/me/referrals/{rid}/contact-rating", {"called": False}),
        ("POST", f"/api/v1/me/referrals/{rid}/visit-code", {"code": "123456"}),
        ("POST", f"/api/v1/me/referrals/{rid}/reports", {"kind": "stopped"}),
        (
            "POST",
            f"/api/v1/me/referrals/{rid}/receipts",
            {"qr": "t=20261101T1030&s=100.00&fn=9960440300000001&i=1&fp=1&n=1"},
        ),
        ("DELETE", "/api/v1/me/devices/fcm-token-of-patient-a-0123456789", None),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, headers=b.headers, json=body)
        assert_problem(response, 404, method, url)
    # B's own list is B's alone, and A's things are untouched.
    assert len((await client.get("/api/v1/me/referrals", headers=b.headers)).json()["items"]) == 1
    screen = (await client.get(f"/api/v1/me/referrals/{rid}", headers=a.headers)).json()
    assert screen["questions"][0]["id"] == question_id
    assert screen["appointments"][0]["patient_status"] == "needs-action"


async def test_sign_in_refuses_the_wrong_phone_and_bad_tokens(client, db):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE_A, at=utcnow())
    wrong_phone = await client.post(
        "/api/v1/auth/patient",
        json={"firebase_id_token": firebase_token(PHONE_B), "invite_code": sent.invite_code},
    )
    assert wrong_phone.status_code == 403
    assert "another phone number" in wrong_phone.json()["detail"]
    unknown = await client.post(
        "/api/v1/auth/patient", json={"firebase_id_token": firebase_token("+79990001122")}
    )
    assert unknown.status_code == 403
    garbage = await client.post(
        "/api/v1/auth/patient", json={"firebase_id_token": "not-a-token-at-all"}
    )
    assert garbage.status_code == 401
    no_auth = await client.get("/api/v1/me")
    assert no_auth.status_code == 401 and "Bearer" in no_auth.headers["www-authenticate"]
    forged = await client.get("/api/v1/me", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401
    extra_field = await client.post(
        "/api/v1/auth/patient",
        json={"firebase_id_token": firebase_token(PHONE_A), "role": "exchange_operator"},
    )
    assert extra_field.status_code == 400

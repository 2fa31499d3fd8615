"""The patient's web page behind an SMS link, over HTTP: a GET records nothing, answers
are POSTs with a CSRF token and settle verifications as the app's answers do, a link
grants its own referral only, the plan waits for the phone to be proved by an SMS code,
and erasure ends links, codes and sessions."""

import json
import re
from datetime import datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from backend.domain.contact_time import reported_call_time
from backend.domain.events import ItemDone, Source, Visited
from backend.runtime.clock import utcnow
from backend.services import patient_links, reports
from backend.services.privacy import erase
from backend.services.recording import Statement, record
from backend.store import plans, throttle
from backend.store.tables import (
    ContactRating,
    Event,
    Patient,
    PatientWebSession,
    Question,
    Referral,
    SmsCode,
    SmsMessage,
    Verification,
)
from tests.factories import book, close, make_clinic, make_referral, page_token

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def referral_with_link(
    db, phone="+79161240001", booked=True, name="Улыбка", sent_ago=timedelta(hours=2)
):
    now = utcnow()
    clinic = await make_clinic(name)
    sent = await make_referral(clinic, phone=phone, at=now - sent_ago)
    if booked:
        await book(sent.referral_id, now + timedelta(days=1), occurred_at=now - timedelta(hours=1))
    token = await page_token(db.secret_key, sent.referral_id, sent.patient_id, now)
    return sent, token


def csrf_of(html: str) -> str:
    return CSRF.search(html)[1]


async def open_questions(referral_id: UUID) -> list[dict]:
    return await Question.select().where(
        (Question.referral == referral_id) & (Question.status == "requested")
    )


async def post_form(client, url: str, page_html: str, data: dict[str, str]):
    return await client.post(url, data={**data, "_csrf_token": csrf_of(page_html)})


async def test_a_link_shows_its_questions_and_a_get_records_nothing(client, db):
    sent, token = await referral_with_link(db)
    events = await Event.count()
    for path in (f"/p/{token}", f"/p/{token}/plan"):
        for _ in range(3):  # a link scanner, a messenger's preview, the patient
            page = await client.get(path)
            assert page.status_code == 200, page.text
    assert await Event.count() == events
    assert len(await open_questions(sent.referral_id)) == 2
    page = await client.get(f"/p/{token}")
    html = page.text
    assert "Звонили ли вам из клиники «Улыбка»" in html
    assert "Вы записаны в «Улыбка»" in html
    assert html.count('name="answer" value="yes"') == 2
    # One request: under 100 KB, no scripts, nothing from another host.
    assert len(page.content) < 100_000
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "'sha256-" in csp
    assert page.headers["cache-control"] == "no-store"
    assert "noindex" in page.headers["x-robots-tag"]
    # The patient's name and phone are not on the page.
    assert "Анна" not in html and "1240001" not in html


async def test_an_answer_is_a_post_with_csrf_and_verifies_like_the_apps(client, db):
    sent, token = await referral_with_link(db)
    page = (await client.get(f"/p/{token}")).text
    [contact] = [q for q in await open_questions(sent.referral_id) if q["milestone"] == "contacted"]
    url = f"/p/{token}/q/{contact['id']}"

    forged = await client.post(url, data={"answer": "yes"})  # another site's form: no token
    assert forged.status_code == 403
    assert len(await open_questions(sent.referral_id)) == 2

    answered = await post_form(client, url, page, {"answer": "yes"})
    assert answered.status_code == 303
    assert answered.headers["location"] == f"/p/{token}?done=answered"
    [event] = await Event.select().where(Event.kind == "patient_answer")
    assert event["source"] == "patient_sms" and event["side"] == "patient"
    [state] = await Verification.select(Verification.state).where(
        (Verification.referral == sent.referral_id) & (Verification.milestone == "contacted")
    )
    assert state["state"] == "verified"
    after = await client.get(answered.headers["location"])
    assert "Спасибо, ответ записан." in after.text
    assert after.text.count('name="answer" value="yes"') == 1  # the booking one is left

    again = await post_form(client, url, page, {"answer": "no"})
    assert again.headers["location"] == f"/p/{token}?done=already"
    assert await Event.count().where(Event.kind == "patient_answer") == 1

    bad = await post_form(client, url, page, {"answer": "maybe"})
    assert bad.status_code == 400 and "<html" in bad.text


async def test_a_link_grants_its_own_referral_only(client, db):
    _, token_a = await referral_with_link(db, phone="+79161240011")
    b, _ = await referral_with_link(db, phone="+79161240012", name="Другая")
    page = (await client.get(f"/p/{token_a}")).text
    [question_b] = [q for q in await open_questions(b.referral_id) if q["milestone"] == "contacted"]
    appointments_b = await plans_appointment(b.referral_id)
    events = await Event.count()
    for method, path, data in (
        ("GET", f"/p/{token_a}/q/{question_b['id']}", None),
        ("POST", f"/p/{token_a}/q/{question_b['id']}", {"answer": "yes"}),
        ("POST", f"/p/{token_a}/appointments/{appointments_b}", {"response": "decline"}),
    ):
        if method == "GET":
            answer = await client.get(path)
        else:
            answer = await post_form(client, path, page, data)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "Страница не найдена" in answer.text
    assert await Event.count() == events


async def plans_appointment(referral_id: UUID) -> UUID:
    from backend.store.tables import Appointment

    [row] = await Appointment.select().where(Appointment.referral == referral_id)
    return row["id"]


async def test_wrong_revoked_expired_and_erased_links_are_the_same_plain_404(client, db):
    _, revoked = await referral_with_link(db, phone="+79161240021")
    closed, expired = await referral_with_link(
        db, phone="+79161240022", booked=False, sent_ago=timedelta(days=60)
    )
    erased, gone = await referral_with_link(db, phone="+79161240023")
    await patient_links.revoke(
        (await patient_links.open_link(revoked, utcnow())).referral_id, utcnow()
    )
    long_ago = utcnow() - timedelta(days=31)
    await close(closed.referral_id, "переезд", long_ago)
    await erase(erased.patient_id, confirm="erase")
    bodies = set()
    for token in ("NotARealLinkToken00000", "short", "x" * 300, revoked, expired, gone):
        answer = await client.get(f"/p/{token}")
        assert answer.status_code == 404, token
        bodies.add(answer.text.replace(token, "TOKEN"))  # the language link names the page
    assert len(bodies) == 1
    assert "Ссылка неверна или больше не действует" in bodies.pop()


async def test_a_closed_referral_keeps_its_link_for_a_month(client, db):
    sent, token = await referral_with_link(
        db, phone="+79161240024", booked=False, sent_ago=timedelta(days=60)
    )
    await close(sent.referral_id, "переезд", utcnow() - timedelta(days=29))
    assert (await client.get(f"/p/{token}")).status_code == 200


async def sms_code(db, referral_id: UUID) -> str:
    [row] = (
        await SmsCode.select()
        .where(SmsCode.referral == referral_id)
        .order_by(SmsCode.created_at, ascending=False)
        .limit(1)
    )
    return patient_links.code_of(db.secret_key, row["id"])


async def test_the_plan_is_shown_after_the_phone_is_proved_by_an_sms_code(client, db):
    sent, token = await referral_with_link(db, phone="+79161240031")
    plan = await client.get(f"/p/{token}/plan")
    assert "Вход по коду из SMS" in plan.text and "<progress" not in plan.text
    assert "+7 916 ***-**-31" in plan.text  # the number the code goes to, masked

    asked = await post_form(client, f"/p/{token}/code", plan.text, {})
    assert asked.status_code == 303 and asked.headers["location"].endswith("/plan?sent=true")
    [message] = await SmsMessage.select().where(SmsMessage.kind == "code")
    assert message["status"] == "queued" and message["urgent"]
    code = await sms_code(db, sent.referral_id)
    [stored] = await SmsCode.select(SmsCode.code_hash)
    assert code not in stored["code_hash"]  # kept as an HMAC only

    form = (await client.get(asked.headers["location"])).text
    wrong = "000000" if code != "000000" else "111111"
    refused = await post_form(client, f"/p/{token}/session", form, {"code": wrong})
    assert refused.status_code == 422 and "Код неверный" in refused.text
    assert "plantrack_patient" not in refused.headers.get("set-cookie", "")

    signed = await post_form(client, f"/p/{token}/session", form, {"code": code})
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "plantrack_patient=" in cookie and "HttpOnly" in cookie and "Path=/p" in cookie
    assert "Max-Age=2592000" in cookie  # 30 days
    plan = await client.get(f"/p/{token}/plan")
    html = plan.text
    assert "<progress" in html and "Ваш план лечения" in html
    assert "Зубы до лечения" in html and "Зубы после лечения (план)" in html
    assert html.count("<svg") == 2 and len(plan.content) < 100_000
    assert "Лечение кариеса" in html and "Имплант" in html
    # The code works once.
    again = await post_form(client, f"/p/{token}/session", form, {"code": code})
    assert again.status_code == 422

    out = await post_form(client, f"/p/{token}/sign-out", html, {"everywhere": ""})
    assert out.status_code == 303
    assert "Вход по коду из SMS" in (await client.get(f"/p/{token}/plan")).text
    [session] = await PatientWebSession.select()
    assert session["revoked_at"] is not None


async def test_five_wrong_codes_lock_for_the_window_only(client, db):
    sent, token = await referral_with_link(db, phone="+79161240041")
    page = (await client.get(f"/p/{token}/plan")).text
    await post_form(client, f"/p/{token}/code", page, {})
    code = await sms_code(db, sent.referral_id)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert (
            await post_form(client, f"/p/{token}/session", page, {"code": wrong})
        ).status_code == 422
    locked = await post_form(client, f"/p/{token}/session", page, {"code": code})
    assert locked.status_code == 429 and locked.headers["retry-after"] == "900"
    assert "Слишком много попыток" in locked.text
    await throttle.clear(f"sms-code:{sent.referral_id}")  # the window has passed
    assert (await post_form(client, f"/p/{token}/session", page, {"code": code})).status_code == 303


async def test_three_codes_per_window_are_sent_then_a_wait(client, db):
    _, token = await referral_with_link(db, phone="+79161240042")
    page = (await client.get(f"/p/{token}/plan")).text
    for _ in range(3):
        assert (await post_form(client, f"/p/{token}/code", page, {})).status_code == 303
    fourth = await post_form(client, f"/p/{token}/code", page, {})
    assert fourth.status_code == 429
    assert await SmsMessage.count().where(SmsMessage.kind == "code") == 3


async def test_a_procedure_question_waits_for_the_proved_phone(client, db):
    sent, token = await referral_with_link(db, phone="+79161240051")
    now = utcnow()
    await record(
        sent.referral_id,
        Statement(body=Visited(), source=Source.clinic_panel, actor="staff:t"),
        now=now,
    )
    items = await plans.items_of((await plans.versions_of(sent.referral_id))[0].id)
    implant = next(i for i in items if i.tooth == 36)
    await record(
        sent.referral_id,
        Statement(body=ItemDone(item_id=implant.item_id), source=Source.clinic_panel, actor="s"),
        now=now,
    )
    [item_q] = [q for q in await open_questions(sent.referral_id) if q["kind"] == "confirm_item"]
    page = await client.get(f"/p/{token}")
    assert "Вопрос о вашем плане лечения" in page.text
    for health_data in ("Имплант", "кариес", "зуб 36", "Следующая процедура"):
        assert health_data not in page.text
    posted = await post_form(client, f"/p/{token}/q/{item_q['id']}", page.text, {"answer": "yes"})
    assert posted.status_code == 303 and posted.headers["location"] == f"/p/{token}/plan"
    assert await Event.count().where(Event.kind == "patient_answer") == 0


async def test_the_appointment_reply_and_the_contact_rating_from_the_page(client, db):
    sent, token = await referral_with_link(db, phone="+79161240061")
    page = (await client.get(f"/p/{token}")).text
    appointment_id = await plans_appointment(sent.referral_id)
    assert f"/p/{token}/appointments/{appointment_id}" in page
    replied = await post_form(
        client, f"/p/{token}/appointments/{appointment_id}", page, {"response": "confirm"}
    )
    assert replied.headers["location"] == f"/p/{token}?done=replied"
    rated = await post_form(client, f"/p/{token}/rating", page, {"called": "yes", "stars": "4"})
    assert rated.headers["location"] == f"/p/{token}?done=rated"
    [rating] = await ContactRating.select()
    assert rating["called"] and rating["stars"] == 4
    sources = {
        e["kind"]: e["source"]
        for e in await Event.select().where(
            Event.kind.is_in(["appointment_response", "contact_rating"])
        )
    }
    assert sources == {"appointment_response": "patient_sms", "contact_rating": "patient_sms"}
    nonsense = await post_form(client, f"/p/{token}/rating", page, {"called": "yes", "stars": "9"})
    assert nonsense.status_code == 400


async def test_erasure_ends_links_codes_and_browser_sessions(client, db):
    sent, token = await referral_with_link(db, phone="+79161240071")
    page = (await client.get(f"/p/{token}/plan")).text
    await post_form(client, f"/p/{token}/code", page, {})
    await post_form(client, f"/p/{token}/code", page, {})
    first_code = await sms_code(db, sent.referral_id)
    await post_form(client, f"/p/{token}/session", page, {"code": first_code})
    assert "<progress" in (await client.get(f"/p/{token}/plan")).text
    await erase(sent.patient_id, confirm="erase")
    assert (await client.get(f"/p/{token}")).status_code == 404
    assert (await client.get(f"/p/{token}/plan")).status_code == 404
    [session] = await PatientWebSession.select()
    assert session["revoked_at"] is not None
    live = await SmsCode.count().where(SmsCode.used_at.is_null() & (SmsCode.expires_at > utcnow()))
    assert live == 0
    [patient] = await Patient.select(Patient.phone).where(Patient.id == sent.patient_id)
    assert patient["phone"].startswith("~")
    # No hash of a link, a code or a cookie is kept.
    from backend.store.tables import PatientLink

    assert all(r["token_hash"].startswith("erased:") for r in await PatientLink.select())
    assert all(r["token_hash"].startswith("erased:") for r in await PatientWebSession.select())
    assert {r["code_hash"] for r in await SmsCode.select()} == {""}


async def test_the_page_speaks_english_when_asked(client, db):
    _, token = await referral_with_link(db, phone="+79161240081")
    page = await client.get(f"/p/{token}?lang=en")
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert "Did «Улыбка» call you" in page.text
    assert "plantrack_patient_lang=en" in page.headers["set-cookie"]
    again = await client.get(f"/p/{token}")
    assert '<html lang="en">' in again.text


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_every_page_links_to_the_app_stores(client, db, lang):
    _, token = await referral_with_link(db, phone="+79161240091")
    page = await client.get(f"/p/{token}?lang={lang}")
    # Not configured here: the page says the app is coming instead of linking nowhere.
    assert ("скоро появится" if lang == "ru" else "coming to the App Store") in page.text


async def test_scorecards_show_where_each_clinics_patients_answered(client, db):
    from backend.domain.roles import Role
    from backend.services.answers import answer_question
    from tests.http.staff_client import make_staff, sign_in

    now = utcnow()
    clinic = await make_clinic("Счёт")
    by_app = await make_referral(clinic, phone="+79161240101", at=now - timedelta(hours=3))
    by_sms = await make_referral(clinic, phone="+79161240102", at=now - timedelta(hours=3))
    both = await make_referral(clinic, phone="+79161240103", at=now - timedelta(hours=3))
    await make_referral(clinic, phone="+79161240104", at=now - timedelta(hours=3))  # silent
    for sent in (by_app, by_sms, both):
        await book(sent.referral_id, now + timedelta(days=1), occurred_at=now - timedelta(hours=2))
    for sent in (by_app, both):
        [q, *_] = await open_questions(sent.referral_id)
        await answer_question(patient_id=sent.patient_id, question_id=q["id"], answer="yes")
    for sent in (by_sms, both):
        token = await page_token(db.secret_key, sent.referral_id, sent.patient_id, now)
        page = (await client.get(f"/p/{token}")).text
        [q, *_] = await open_questions(sent.referral_id)
        assert (
            await post_form(client, f"/p/{token}/q/{q['id']}", page, {"answer": "yes"})
        ).status_code == 303
    analyst = await sign_in(client, await make_staff(Role.exchange_analyst))
    cards = (await client.get("/api/v1/exchange/scorecards", headers=analyst.headers)).json()
    [card] = [c for c in cards["items"] if c["clinic_name"] == "Счёт"]
    assert card["answered_by"] == {"app": 1, "sms": 1, "both": 1, "none": 1}


async def test_the_exchange_revokes_a_referrals_links(client, db):
    from backend.domain.roles import Role
    from tests.http.staff_client import make_staff, sign_in

    sent, token = await referral_with_link(db, phone="+79161240111")
    assert (await client.get(f"/p/{token}")).status_code == 200
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    url = f"/api/v1/exchange/referrals/{sent.referral_id}/patient-links/revoke"
    answer = await client.post(url, headers=operator.headers)
    assert answer.status_code == 200 and answer.json() == {"revoked_links": 1}
    assert (await client.get(f"/p/{token}")).status_code == 404
    again = await client.post(url, headers=operator.headers)
    assert again.json() == {"revoked_links": 0}
    missing = f"/api/v1/exchange/referrals/{UUID(int=1)}/patient-links/revoke"
    assert (await client.post(missing, headers=operator.headers)).status_code == 404


async def test_the_patients_export_holds_their_sms_and_browser_sessions(client, db):
    from tests.http.patient_client import sign_in as patient_sign_in

    sent, token = await referral_with_link(db, phone="+79161240121")
    page = (await client.get(f"/p/{token}/plan")).text
    await post_form(client, f"/p/{token}/code", page, {})
    await post_form(
        client, f"/p/{token}/session", page, {"code": await sms_code(db, sent.referral_id)}
    )
    patient = await patient_sign_in(client, "+79161240121")
    body = (await client.get("/api/v1/me/export", headers=patient.headers)).json()
    kinds = sorted(m["kind"] for m in body["text_messages"])
    assert kinds == ["code", "invite"]
    assert all(m["referral_id"] == str(sent.referral_id) for m in body["text_messages"])
    [web] = body["web_sessions"]
    assert web["revoked_at"] is None
    assert token not in str(body)  # links are not kept, so not exported either


async def test_the_page_is_limited_per_client_address_and_made_up_links_cost_more(db):
    from tests.http.app_with import app_with

    _, token = await referral_with_link(db, phone="+79161240131")
    async with app_with(
        db, rate_limit_links=5, rate_limit_auth=2, rate_limit_window_seconds=3600
    ) as client:
        assert (await client.get(f"/p/{token}")).status_code == 200
        # Made-up links: 404 each, and each spends the address's sign-in budget too.
        assert (await client.get("/p/NotARealLinkToken00001")).status_code == 404
        assert (await client.get("/p/NotARealLinkToken00002")).status_code == 404
        guessed = await client.get("/p/NotARealLinkToken00003")
        assert guessed.status_code == 429 and "<html" in guessed.text
        assert int(guessed.headers["retry-after"]) >= 1
        # The page's own budget: five requests of this address in the window.
        assert (await client.get(f"/p/{token}")).status_code == 200
        over = await client.get(f"/p/{token}")
        assert over.status_code == 429 and "Слишком много попыток" in over.text


async def test_the_page_asks_when_they_called_and_keeps_the_day(client, db):
    """The yes to "did they call?" carries the page's date field: today by default, an
    earlier day as that day's span, a day after today refused with a page; a "no" keeps
    no day (issue 20's follow-up on the web page)."""
    sent, token = await referral_with_link(db, phone="+79161240091", sent_ago=timedelta(days=4))
    tz = ZoneInfo("Europe/Moscow")  # the patient's zone (the clinic's by default)
    today = utcnow().astimezone(tz).date()
    page = (await client.get(f"/p/{token}")).text
    [contact] = [q for q in await open_questions(sent.referral_id) if q["milestone"] == "contacted"]
    field = re.search(rf'<input[^>]*id="day-{contact["id"]}"[^>]*>', page)[0]
    assert f'value="{today}"' in field and f'max="{today}"' in field
    assert f'min="{today - timedelta(days=4)}"' in field
    url = f"/p/{token}/q/{contact['id']}"

    future = await post_form(
        client, url, page, {"answer": "yes", "called_day": str(today + timedelta(days=1))}
    )
    assert future.status_code == 422 and "позже сегодняшнего" in future.text
    assert await Event.count().where(Event.kind == "patient_answer") == 0

    called = today - timedelta(days=3)
    answered = await post_form(client, url, page, {"answer": "yes", "called_day": str(called)})
    assert answered.status_code == 303, answered.text
    [event] = await Event.select().where(Event.kind == "patient_answer")
    body = event["payload"]
    body = json.loads(body) if isinstance(body, str) else body
    start = datetime.combine(called, time(0), tzinfo=tz)
    assert body["called_on"] == "earlier"
    assert datetime.fromisoformat(body["called_after"]) == start
    assert datetime.fromisoformat(body["called_before"]) == start + timedelta(days=1)
    [state] = await Verification.select(Verification.state).where(
        (Verification.referral == sent.referral_id) & (Verification.milestone == "contacted")
    )
    assert state["state"] == "verified"
    # The patient-reported first contact is in that day, not at the tap.
    [row] = await Referral.select(Referral.clinic, Referral.sent_at).where(
        Referral.id == sent.referral_id
    )
    [score] = await reports.scorecards([row["clinic"]], now=utcnow())
    expected = reported_call_time(
        start, start + timedelta(days=1), sent_at=row["sent_at"], said_at=event["occurred_at"]
    )
    assert score.card.first_contact_hours_patient == pytest.approx(
        (expected - row["sent_at"]).total_seconds() / 3600, abs=0.01
    )

    # The rating: a "no" with the default day keeps no day; a yes keeps today.
    page = (await client.get(f"/p/{token}")).text
    await post_form(client, f"/p/{token}/rating", page, {"called": "no", "called_day": str(today)})
    await post_form(client, f"/p/{token}/rating", page, {"called": "yes", "called_day": str(today)})
    said = [
        json.loads(e["payload"]) if isinstance(e["payload"], str) else e["payload"]
        for e in await Event.select().where(Event.kind == "contact_rating").order_by(Event.id)
    ]
    assert [(s["called"], s.get("called_on")) for s in said] == [(False, None), (True, "today")]


async def test_the_dev_link_opens_the_latest_referral_whose_page_still_opens(client, db):
    """`plantrack dev-link` (a development tool): a demo patient's newest referral may be
    long over; the link it gives must open a page all the same."""
    phone = "+79161240031"
    clinic_id = await make_clinic()
    now = utcnow()
    older = await make_referral(clinic_id, phone=phone, at=now - timedelta(days=90))
    newer = await make_referral(clinic_id, phone=phone, at=now - timedelta(days=80))
    await close(newer.referral_id, "переезд", now - timedelta(days=40))
    url = await patient_links.latest_link(
        phone, secret=db.secret_key, public_url="http://test", now=now
    )
    page = await client.get(url.removeprefix("http://test"))
    assert page.status_code == 200
    access = await patient_links.open_link(url.rsplit("/", 1)[1], now)
    assert access.referral_id == older.referral_id
    # With every referral long over there is no page to give.
    await close(older.referral_id, "переезд", now - timedelta(days=40))
    none = await patient_links.latest_link(
        phone, secret=db.secret_key, public_url="http://test", now=now
    )
    assert none is None

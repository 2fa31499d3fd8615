"""SMS to patients without the app, through the outbox, to a local fake SMS.ru over real
HTTP: the invite and its link, questions by SMS (app users get pushes only), SMS.ru's
errors told apart, outages and a hung vendor, the weekly allowance, quiet hours."""

import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.clinic_settings import SettingValues
from backend.domain.sms import sms_parts
from backend.messages.sms import SmsRu
from backend.outbox.worker import SmsDelivery, handlers, run_once
from backend.services import notifications, patient_links
from backend.services.profile import (
    NotificationPrefs,
    ProfileChange,
    register_device,
    update_profile,
)
from backend.store import clinic_settings as clinic_store
from backend.store import outbox, parties
from backend.store.tables import Appointment, Outbox, SmsMessage
from tests.factories import book, make_clinic, make_referral
from tests.fakes.smsru import FakeSmsRu, running_smsru
from tests.http.test_logs_no_personal_data import logs_at_debug  # noqa: F401 - a fixture

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday, 12:00 in Moscow
PUBLIC = "https://pt.example"
LINK = re.compile(r"https://pt\.example/p/([A-Za-z0-9_-]{22})")


@pytest.fixture
def fake() -> Iterator[FakeSmsRu]:
    with running_smsru() as running:
        yield running


@pytest.fixture
async def smsru(fake: FakeSmsRu) -> AsyncIterator[SmsRu]:
    sender = SmsRu(api_id=fake.api_id, endpoint=fake.base_url, timeout=0.5)
    yield sender
    await sender.aclose()


def delivery(db, sender, **kw) -> SmsDelivery:
    return SmsDelivery(sender=sender, secret=db.secret_key, public_url=PUBLIC, **kw)


async def drain(topic_handlers, start: datetime, rounds: int = 4) -> datetime:
    now = start
    for _ in range(rounds):
        await run_once(topic_handlers, worker="w1", now=now)
        now += timedelta(seconds=5)
    return now


async def messages(**where) -> list[dict]:
    rows = await SmsMessage.select().order_by(SmsMessage.created_at)
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def number(phone: str) -> str:
    return phone.lstrip("+")


async def test_a_sent_referral_invites_the_patient_by_sms_with_a_working_link(db, fake, smsru):
    clinic = await make_clinic("Улыбка")
    sent = await make_referral(clinic, phone="+79161230001", at=NOW)
    [invite] = await messages(kind="invite")
    assert invite["status"] == "queued" and invite["planned_at"] == NOW

    await drain(handlers(None, db.secret_key, sms_delivery=delivery(db, smsru)), NOW)
    [sms] = fake.sent
    assert sms.number == "79161230001"
    assert "«Улыбка»" in sms.text and "позвонит" in sms.text
    # No health data: nothing of the plan, its procedures, teeth or prices (the link's
    # random token may hold any digits, so it is left out of the look).
    token = LINK.search(sms.text)[1]
    words = sms.text.replace(token, "")
    for word in ("Имплант", "кариес", "36", "65", "₽", "лечен"):
        assert word not in words
    access = await patient_links.open_link(token, NOW)
    assert (access.referral_id, access.patient_id) == (sent.referral_id, sent.patient_id)
    [row] = await messages(kind="invite")
    assert row["status"] == "sent" and row["vendor_id"] == sms.sms_id
    assert row["parts"] == sms_parts(sms.text) == 2
    # The outbox and the log row hold neither the phone nor the link.
    [message] = await outbox.of_topic("sms")
    assert message.status == "done"
    assert "7916" not in message.payload and token not in message.payload
    assert token not in str(row)


async def test_a_patient_with_the_app_gets_no_invite_and_no_question_sms(db, fake, smsru):
    clinic = await make_clinic()
    first = await make_referral(clinic, phone="+79161230002", at=NOW - timedelta(days=10))
    await register_device(
        first.patient_id, token="ok-app", platform="android", app_version="1", locale="ru"
    )
    second = await make_referral(clinic, phone="+79161230002", at=NOW)
    assert await messages(referral=second.referral_id) == []
    await book(second.referral_id, NOW + timedelta(days=2), now=NOW + timedelta(minutes=1))
    await drain(
        handlers(None, db.secret_key, sms_delivery=delivery(db, smsru)), NOW + timedelta(minutes=1)
    )
    assert fake.sent == []
    pushes = await outbox.of_topic("push")
    assert pushes and {p.status for p in pushes} == {"logged"}


async def test_questions_asked_together_reach_a_patient_without_the_app_in_one_sms(db, fake, smsru):
    clinic = await make_clinic("Улыбка")
    sent = await make_referral(clinic, phone="+79161230003", at=NOW)
    work = handlers(None, db.secret_key, sms_delivery=delivery(db, smsru))
    await drain(work, NOW)  # the invite
    at = NOW + timedelta(hours=1)
    await book(sent.referral_id, NOW + timedelta(days=2), now=at)
    await drain(work, at)
    texts = fake.texts_to("+79161230003")
    assert len(texts) == 2, texts  # the invite, and one SMS for both questions
    question_sms = texts[1]
    token = LINK.search(question_sms)[1]
    assert token != LINK.search(texts[0])[1]  # each SMS its own link
    access = await patient_links.open_link(token, at)
    assert access.referral_id == sent.referral_id and access.question_id is not None
    shared = await messages(kind="question", status="skipped")
    assert len(shared) == 1 and "shares the SMS" in shared[0]["reason"]


async def test_a_number_sms_ru_refuses_is_marked_and_gets_nothing_more(db, fake, smsru):
    fake.codes["79161230004"] = 207  # no route to this number
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone="+79161230004", at=NOW)
    work = handlers(None, db.secret_key, sms_delivery=delivery(db, smsru))
    await drain(work, NOW)
    [invite] = await messages(kind="invite")
    assert invite["status"] == "failed" and invite["reason"].startswith("207")
    patient = await parties.patient(sent.patient_id)
    assert patient.sms_blocked_at is not None and "207" in patient.sms_blocked_reason
    [message] = await outbox.of_topic("sms")
    assert message.status == "skipped"
    # The next notification is refused before anything goes to SMS.ru.
    requests_before = len(fake.requests)
    await notifications.notify(
        patient_id=sent.patient_id,
        referral_id=sent.referral_id,
        kind="inactive",
        now=NOW + timedelta(hours=1),
        dedupe_key="notify:t",
    )
    await drain(work, NOW + timedelta(hours=1))
    assert len(fake.requests) == requests_before
    [later] = await messages(kind="inactive")
    assert later["status"] == "skipped" and "refused" in later["reason"]


async def test_no_money_on_the_account_waits_and_sends_once_topped_up(db, fake, smsru):
    fake.balance = 0
    clinic = await make_clinic()
    await make_referral(clinic, phone="+79161230005", at=NOW)
    work = handlers(None, db.secret_key, sms_delivery=delivery(db, smsru))
    await drain(work, NOW)
    [message] = await outbox.of_topic("sms")
    assert message.status == "pending" and "no money" in message.last_error
    assert message.available_at >= NOW + timedelta(minutes=30)
    assert (await messages())[0]["status"] == "queued"
    fake.balance = 100
    await drain(work, NOW + timedelta(hours=1))
    assert len(fake.texts_to("+79161230005")) == 1
    assert (await messages())[0]["status"] == "sent"


async def test_an_outage_is_retried_with_backoff_and_each_sms_goes_once(db, fake, smsru):
    clinic = await make_clinic()
    for n in range(3):
        await make_referral(clinic, phone=f"+7916123001{n}", at=NOW)
    work = handlers(None, db.secret_key, sms_delivery=delivery(db, smsru))
    fake.down = True
    now = NOW
    for _ in range(6):  # down for a while; each round after the backoff of the last
        await run_once(work, worker="w1", now=now)
        due = [r.available_at for r in await outbox.of_topic("sms") if r.status == "pending"]
        assert len(due) == 3
        now = max(due)
    refused_while_down = fake.refused
    # The vendor failing answers the first call of a batch; the rest wait without a call.
    assert refused_while_down == 6
    rows = await outbox.of_topic("sms")
    assert all(r.attempts == 6 for r in rows)
    fake.down = False
    await drain(work, now)
    assert sorted(s.number for s in fake.sent) == ["79161230010", "79161230011", "79161230012"]
    assert {r["status"] for r in await messages()} == {"sent"}


async def test_a_hung_vendor_is_cut_at_the_timeout_and_nothing_else_waits_for_it(db, fake, smsru):
    clinic = await make_clinic()
    for n in range(3):
        await make_referral(clinic, phone=f"+7916123002{n}", at=NOW)
    other = await make_referral(clinic, phone="+79161230029", at=NOW - timedelta(days=30))
    await notifications.notify(
        patient_id=other.patient_id,
        referral_id=other.referral_id,
        kind="recall",  # push only: handled in the same batch as the SMS
        now=NOW,
        dedupe_key="notify:recall",
    )
    work = handlers(None, db.secret_key, sms_delivery=delivery(db, smsru))
    fake.hang = True
    started = time.monotonic()
    await run_once(work, worker="w1", now=NOW)
    took = time.monotonic() - started
    # One call waited for the 0.5 s timeout; the other two did not call at all.
    assert len(fake.hung) == 1 and fake.sent == []
    assert took < 3, took
    rows = await outbox.of_topic("sms")
    assert {r.status for r in rows} == {"pending"}
    assert any("timed out" in (r.last_error or "") for r in rows)
    [recall] = [r for r in await outbox.of_topic("notify") if r.dedupe_key == "notify:recall"]
    assert recall.status == "skipped"  # the other topic went on (no device, not by SMS)
    fake.hang = False
    await drain(work, NOW + timedelta(minutes=5))
    for n in range(3):
        assert len(fake.texts_to(f"+7916123002{n}")) == 1
    assert len({s.text for s in fake.sent}) == len(fake.sent)  # nothing twice


async def test_a_text_sent_whose_answer_was_lost_is_not_sent_again(db, fake, smsru):
    fake.identical_per_day = 1  # SMS.ru refuses a second identical text to a number (232)
    fake.hang_after_send = True
    clinic = await make_clinic()
    await make_referral(clinic, phone="+79161230030", at=NOW)
    work = handlers(None, db.secret_key, sms_delivery=delivery(db, smsru))
    await run_once(work, worker="w1", now=NOW)
    assert len(fake.sent) == 1  # it went, but the answer never came
    assert (await messages())[0]["status"] == "queued"
    fake.hang_after_send = False
    await drain(work, NOW + timedelta(minutes=5))
    assert len(fake.texts_to("+79161230030")) == 1
    [row] = await messages()
    assert row["status"] == "sent" and row["reason"].startswith("232")


async def test_the_weekly_limit_keeps_the_last_sms_for_an_urgent_reminder(db, fake, smsru):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone="+79161230040", at=NOW)
    work = handlers(None, db.secret_key, sms_delivery=delivery(db, smsru, weekly_limit=3))
    await drain(work, NOW)  # 1 of 3: the invite
    booked = NOW + timedelta(hours=1)
    await book(sent.referral_id, NOW + timedelta(days=2), now=booked)
    await drain(work, booked)  # 2 of 3: the questions about the call and the booking
    [appointment] = await Appointment.select().where(Appointment.referral == sent.referral_id)
    appointment_id = appointment["id"]
    for n, kind in enumerate(["remind_24h", "remind_2h", "remind_2h"]):
        at = NOW + timedelta(hours=2 + n)
        await notifications.notify(
            patient_id=sent.patient_id,
            referral_id=sent.referral_id,
            kind=kind,
            urgent=kind == "remind_2h",
            appointment_id=appointment_id,
            now=at,
            dedupe_key=f"notify:{n}",
        )
        await drain(work, at, rounds=2)
    decided = [(r["kind"], r["status"], r["reason"] or "") for r in await messages()]
    reminders = [d for d in decided if d[0].startswith("remind")]
    assert [d[:2] for d in reminders] == [
        ("remind_24h", "skipped"),
        ("remind_2h", "sent"),
        ("remind_2h", "skipped"),
    ]
    assert "kept for urgent reminders" in reminders[0][2]
    assert "limit reached" in reminders[2][2]
    assert len(fake.texts_to("+79161230040")) == 3


async def test_quiet_hours_hold_the_invite_until_morning(db, fake, smsru):
    night = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)  # 23:00 in Moscow
    clinic = await make_clinic()
    await make_referral(clinic, phone="+79161230050", at=night)
    morning = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)  # 09:00 in Moscow
    [row] = await messages()
    assert row["planned_at"] == morning
    work = handlers(None, db.secret_key, sms_delivery=delivery(db, smsru))
    await drain(work, night)
    assert fake.sent == []
    await drain(work, morning)
    assert len(fake.sent) == 1


async def test_switched_off_questions_get_no_sms(db, fake, smsru):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone="+79161230060", at=NOW)
    await update_profile(
        sent.patient_id,
        ProfileChange(notifications=NotificationPrefs(questions=False, reminders=True)),
    )
    await book(sent.referral_id, NOW + timedelta(days=2), now=NOW)
    await drain(handlers(None, db.secret_key, sms_delivery=delivery(db, smsru)), NOW)
    assert [s for s in fake.sent if "Вопрос по направлению" in s.text] == []


async def test_without_a_provider_sms_are_logged_and_marked(db, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="plantrack.worker")
    clinic = await make_clinic()
    await make_referral(clinic, phone="+79161230070", at=NOW)
    await drain(handlers(None, db.secret_key, sms_delivery=delivery(db, None)), NOW)
    [row] = await messages()
    assert row["status"] == "logged" and row["parts"] == 2
    [message] = await Outbox.select().where(Outbox.topic == "sms")
    assert message["status"] == "logged"
    assert any("no provider configured" in r.getMessage() for r in caplog.records)


async def test_errors_of_our_own_request_fail_without_retrying(db, fake, smsru):
    fake.codes["79161230080"] = 204  # sender name not approved: no retry will fix it
    clinic = await make_clinic()
    await make_referral(clinic, phone="+79161230080", at=NOW)
    await drain(handlers(None, db.secret_key, sms_delivery=delivery(db, smsru)), NOW)
    [row] = await messages()
    assert row["status"] == "failed" and "204" in row["reason"]
    [message] = await outbox.of_topic("sms")
    assert message.status == "failed" and message.attempts == 1


async def test_an_erased_patient_is_sent_nothing(db, fake, smsru):
    from backend.services.privacy import erase

    clinic = await make_clinic()
    sent = await make_referral(clinic, phone="+79161230090", at=NOW)
    await erase(sent.patient_id, confirm="erase")
    await drain(handlers(None, db.secret_key, sms_delivery=delivery(db, smsru)), NOW)
    assert fake.sent == []
    [row] = await messages()
    assert row["status"] == "skipped" and row["reason"] == "patient erased"


async def test_the_demo_holds_the_sms_of_each_referrals_life(db):
    from backend.ops.demo import load_demo
    from backend.services.sms import report

    demo_now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    await load_demo(
        referrals_count=20, now=demo_now, sms_delivery=delivery(db, None, weekly_limit=3)
    )
    rows = await messages()
    went = [r for r in rows if r["status"] == "logged"]
    assert went and {r["kind"] for r in went} >= {"invite", "question"}
    # Every message was decided at its own time: none is left waiting that was due.
    assert not [r for r in rows if r["status"] == "queued" and r["planned_at"] <= demo_now]
    assert all(r["parts"] >= 1 for r in went)
    totals = await report()
    assert totals.went == len(went) and totals.parts == sum(r["parts"] for r in went)
    assert 0 < totals.without_app <= 20
    # The answers came from where each patient was: the app or the SMS link's page.
    from backend.store.tables import Event

    sources = {e["source"] for e in await Event.select(Event.source).where(Event.side == "patient")}
    assert sources <= {"patient_app", "patient_sms"} and "patient_sms" in sources


async def test_the_demo_never_sends_its_made_up_numbers(db, smsru):
    from backend.ops.demo import load_demo

    with pytest.raises(ValueError, match="made up"):
        await load_demo(referrals_count=1, now=NOW, sms_delivery=delivery(db, smsru))


async def test_no_phone_link_or_code_reaches_the_log(db, fake, smsru, logs_at_debug):  # noqa: F811
    from backend.services.patient_links import LinkAccess
    from backend.services.sms import request_code

    clinic = await make_clinic()
    sent = await make_referral(clinic, phone="+79161230111", at=NOW)
    work = handlers(
        None, db.secret_key, sms_delivery=delivery(db, smsru)
    )  # log_texts off, as in prod
    await drain(work, NOW)
    access = LinkAccess(
        link_id=sent.referral_id,  # any id: the code goes to the referral's patient
        referral_id=sent.referral_id,
        patient_id=sent.patient_id,
        question_id=None,
        locale="ru",
    )
    await request_code(access, secret=db.secret_key, now=NOW)
    await drain(work, NOW)
    [invite, code_sms] = fake.texts_to("+79161230111")
    token = LINK.search(invite)[1]
    code = re.search(r"\d{6}", code_sms)[0]
    logged = logs_at_debug.getvalue()  # the JSON lines the server writes, at DEBUG
    assert "SMS sent" in logged  # the worker did log each SMS: kind, parts, outcome
    for secret in ("79161230111", "9161230111", token, code, "«Улыбка»"):
        assert secret not in logged, secret


async def test_each_clinics_sender_name_goes_as_sms_rus_from(db, fake):
    """A clinic's `sender_name` setting is SMS.ru's `from` for its patients' texts; a clinic
    without one sends from PLANTRACK_SMS_FROM; a name SMS.ru has not agreed (204) does not
    cost the patient the text: it goes from the default, and the row says why."""
    fake.senders = {"plantrack", "Ulybka"}
    sender = SmsRu(api_id=fake.api_id, endpoint=fake.base_url, sender_name="plantrack", timeout=1)
    ulybka, plain, unagreed = (
        await make_clinic("Улыбка"),
        await make_clinic("Без имени"),
        await make_clinic("Дент"),
    )
    await clinic_store.save(ulybka, SettingValues(sender_name="Ulybka"), actor="test", now=NOW)
    await clinic_store.save(unagreed, SettingValues(sender_name="Dent"), actor="test", now=NOW)
    await make_referral(ulybka, phone="+79161230091", at=NOW)
    await make_referral(plain, phone="+79161230092", at=NOW)
    await make_referral(unagreed, phone="+79161230093", at=NOW)
    try:
        await drain(handlers(None, db.secret_key, sms_delivery=delivery(db, sender)), NOW)
    finally:
        await sender.aclose()
    assert fake.senders_to("+79161230091") == ["Ulybka"]
    assert fake.senders_to("+79161230092") == ["plantrack"]
    assert fake.senders_to("+79161230093") == ["plantrack"]
    froms = [r.get("from") for r in fake.requests if r["to"] == "79161230093"]
    assert froms == ["Dent", "plantrack"]
    rows = {r["patient"]: r for r in await messages(kind="invite")}
    assert all(r["status"] == "sent" for r in rows.values())
    [refused] = [r for r in rows.values() if r["reason"]]
    assert "Dent" in refused["reason"] and "204" in refused["reason"]

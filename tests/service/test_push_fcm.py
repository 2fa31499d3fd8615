"""Pushes through the real firebase-admin SDK to a local fake FCM, over loopback."""

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import msgspec
import pytest

from backend.domain.events import Source
from backend.outbox.worker import handlers, run_once
from backend.push.fcm import FcmSender
from backend.services import notifications
from backend.services.profile import ProfileChange, QuietHours, register_device, update_profile
from backend.services.recording import Statement, record
from backend.store import outbox
from backend.store.tables import Device, Outbox
from tests.factories import book, make_clinic, make_referral
from tests.fakes.fcm import FakeFcm, RunningFake
from tests.fakes.service_account import write_key

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday, 12:00 in Moscow


@pytest.fixture
def fake_fcm() -> Iterator[FakeFcm]:
    with RunningFake() as fake:
        yield fake


@pytest.fixture
async def sender(fake_fcm: FakeFcm, tmp_path: Path) -> AsyncIterator[FcmSender]:
    key = write_key(tmp_path / "key.json", token_uri=f"{fake_fcm.base_url}/token")
    fcm = FcmSender(
        credentials_path=str(key), project_id="plantrack-test", endpoint=fake_fcm.base_url
    )
    yield fcm
    await fcm.aclose()


async def patient_with_devices(*tokens: str, quiet=(time(0), time(0))):
    sent = await make_referral(await make_clinic(), at=NOW - timedelta(hours=1))
    await update_profile(
        sent.patient_id, ProfileChange(quiet_hours=QuietHours(start=quiet[0], end=quiet[1]))
    )
    for token in tokens:
        await register_device(
            sent.patient_id, token=token, platform="android", app_version="1", locale="ru"
        )
    return sent


async def drain(
    topic_handlers, start: datetime, *, rounds: int = 8, step: timedelta = timedelta(seconds=5)
) -> datetime:
    now = start
    for _ in range(rounds):
        await run_once(topic_handlers, worker="w1", now=now)
        now += step
    return now


async def notify(sent, kind: str, dedupe_key: str, now: datetime = NOW, urgent: bool = False):
    """A notification of `kind` to the referral's patient (`notifications.notify`)."""
    await notifications.notify(
        patient_id=sent.patient_id,
        referral_id=sent.referral_id,
        kind=kind,
        urgent=urgent,
        now=now,
        dedupe_key=dedupe_key,
    )


async def test_questions_reach_the_phone_without_health_data(db, fake_fcm, sender):
    sent = await patient_with_devices("ok-phone-1")
    await book(sent.referral_id, NOW + timedelta(days=3), occurred_at=NOW, now=NOW)
    await drain(handlers(sender), NOW, rounds=3)
    messages = fake_fcm.received
    assert len(messages) == 2  # "did they call", "are you booked"
    for m in messages:
        assert m["token"] == "ok-phone-1"
        assert m["data"]["kind"] == "question" and m["data"]["referral_id"] == str(sent.referral_id)
        assert m["android"]["collapse_key"] == str(sent.referral_id)
        assert m["android"]["notification"]["tag"].startswith("n")
        text = m["notification"]["title"] + m["notification"]["body"]
        assert "Улыбка" not in text and "кариес" not in text.lower()  # no clinic, no procedure
    tags = {m["android"]["notification"]["tag"] for m in messages}
    assert len(tags) == 2
    statuses = {r["status"] for r in await Outbox.select().where(Outbox.topic == "push")}
    assert statuses == {"done"}


async def test_outcomes_per_kind_of_answer(db, fake_fcm, sender):
    tokens = ["ok-a", "gone-a", "badtoken-a", "mismatch-a", "badmsg-a", "busy-a", "quota1-a"]
    sent = await patient_with_devices(*tokens)
    await notify(sent, "behind", "notify:test")
    await drain(handlers(sender), NOW, rounds=10)
    pushes = {r["payload"]: r for r in await Outbox.select().where(Outbox.topic == "push")}
    by_token = {msgspec.json.decode(raw)["address"]: row for raw, row in pushes.items()}
    assert by_token["ok-a"]["status"] == "done"
    assert by_token["busy-a"]["status"] == "done"  # the outbox retried the 503s
    assert by_token["busy-a"]["attempts"] == 3
    assert by_token["quota1-a"]["status"] == "done" and by_token["quota1-a"]["attempts"] == 3
    for gone in ("gone-a", "badtoken-a", "mismatch-a"):
        assert by_token[gone]["status"] == "skipped", gone
    assert by_token["badmsg-a"]["status"] == "failed"
    active = {r["token"]: r["active"] for r in await Device.select()}
    assert active == {
        "ok-a": True,
        "busy-a": True,
        "quota1-a": True,
        "badmsg-a": True,
        "gone-a": False,
        "badtoken-a": False,
        "mismatch-a": False,
    }


async def test_retry_after_is_honoured(db, fake_fcm, sender):
    sent = await patient_with_devices("quota30-x")
    await notify(sent, "behind", "notify:test")
    await run_once(handlers(sender), worker="w1", now=NOW)  # notify → push
    await run_once(handlers(sender), worker="w1", now=NOW)  # 429, Retry-After: 30
    [push] = await Outbox.select().where(Outbox.topic == "push")
    assert push["status"] == "pending" and push["available_at"] >= NOW + timedelta(seconds=30)
    assert await run_once(handlers(sender), worker="w1", now=NOW + timedelta(seconds=29)) == 0
    later = push["available_at"] + timedelta(seconds=1)
    await run_once(handlers(sender), worker="w1", now=later)  # 429 again
    [push] = await Outbox.select().where(Outbox.topic == "push")
    await run_once(handlers(sender), worker="w1", now=push["available_at"])
    [push] = await Outbox.select().where(Outbox.topic == "push")
    assert push["status"] == "done" and fake_fcm.delivered_tokens() == ["quota30-x"]


async def test_giving_up_is_recorded(db, fake_fcm, sender, monkeypatch):
    from backend.outbox import worker

    monkeypatch.setattr(worker, "MAX_ATTEMPTS", 2)
    sent = await patient_with_devices("quota5-y")
    await notify(sent, "behind", "notify:test")
    await drain(handlers(sender), NOW, rounds=6, step=timedelta(seconds=10))
    [push] = await Outbox.select().where(Outbox.topic == "push")
    assert push["status"] == "failed" and push["last_error"].startswith("gave up after 2")


async def test_quiet_hours_hold_a_question_but_not_the_two_hour_reminder(db, fake_fcm, sender):
    sent = await patient_with_devices("ok-night", quiet=(time(21), time(9)))
    night = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)  # 23:00 in Moscow
    await notify(sent, "question", "notify:q", now=night)
    await notify(sent, "remind_2h", "notify:r", now=night, urgent=True)
    rows = {r.dedupe_key: r for r in await outbox.of_topic("notify")}
    assert rows["notify:q"].available_at == datetime(2026, 11, 3, 6, 0, tzinfo=UTC)  # 09:00
    assert rows["notify:r"].available_at == night
    await drain(handlers(sender), night, rounds=3)
    assert [m["data"]["kind"] for m in fake_fcm.received] == ["remind_2h"]


async def test_a_moved_appointment_gets_no_reminder_for_its_old_time(db, fake_fcm, sender):
    sent = await patient_with_devices("ok-moved")
    first = NOW + timedelta(days=3)
    await book(sent.referral_id, first, occurred_at=NOW, now=NOW)
    later = NOW + timedelta(hours=1)
    await book(sent.referral_id, first + timedelta(days=2), occurred_at=later, now=later)
    timers = {
        r.dedupe_key: r.status for r in await outbox.of_topic("timer") if "remind" in r.dedupe_key
    }
    # Two reminders for each time; those for the first time are cancelled, never claimed.
    assert sorted(timers.values()) == ["cancelled", "cancelled", "pending", "pending"]
    await drain(handlers(sender), first - timedelta(hours=24), rounds=3)
    await drain(handlers(sender), first - timedelta(hours=2), rounds=3)
    assert [m["data"]["kind"] for m in fake_fcm.received].count("remind_24h") == 0
    await drain(handlers(sender), first + timedelta(days=1), rounds=3)
    assert [m["data"]["kind"] for m in fake_fcm.received].count("remind_24h") == 1


async def test_without_credentials_pushes_are_logged_visibly(db, caplog):
    caplog.set_level(logging.INFO, logger="plantrack.worker")
    sent = await patient_with_devices("ok-dev")
    await notify(sent, "recall", "notify:dev")
    await drain(handlers(None), NOW, rounds=2)
    [push] = await Outbox.select().where(Outbox.topic == "push")
    assert push["status"] == "logged"
    assert any("no FCM credentials" in r.getMessage() for r in caplog.records)


async def test_a_plan_behind_schedule_nudges_the_patient_and_lists_for_the_clinic(db):
    from backend.domain.events import ItemDone, Visited
    from backend.store import desk, plans, referrals

    sent = await patient_with_devices("ok-late")
    items = await plans.items_of((await plans.versions_of(sent.referral_id))[0].id)
    filling = next(i for i in items if i.stage == 1)
    visit = NOW + timedelta(days=1)
    await record(
        sent.referral_id,
        Statement(body=Visited(), source=Source.clinic_panel, actor="staff:t", occurred_at=visit),
        now=visit,
    )
    await record(
        sent.referral_id,
        Statement(
            body=ItemDone(item_id=filling.item_id),
            source=Source.clinic_panel,
            actor="staff:t",
            occurred_at=visit,
        ),
        now=visit,
    )
    # Stage 2 (the implant, 180 days by the norms) starts when stage 1 is done; it is late
    # a week after its expected end.
    [behind] = [
        r
        for r in await outbox.of_topic("timer")
        if ":behind:" in r.dedupe_key and r.status == "pending"
    ]
    due = behind.available_at
    assert due == visit + timedelta(days=180 + 7)
    assert (await referrals.get(sent.referral_id)).schedule == "on_track"
    await drain(handlers(None), due, rounds=3)
    assert (await referrals.get(sent.referral_id)).schedule == "behind"
    kinds = [r.payload["kind"] for r in await outbox.of_topic("notify")]
    assert "behind" in kinds
    clinic_id = (await referrals.get(sent.referral_id)).clinic
    listed = await desk.behind_schedule(clinic_id, limit=500)
    assert [r.id for r in listed] == [sent.referral_id]
    # The exchange's list of plans past their schedule, across clinics, shows it alone.
    on_track = await make_referral(await make_clinic("Другая"), phone="+79160000999")
    assert on_track.referral_id != sent.referral_id
    across = await desk.referrals(desk.ReferralFilter(behind=True), limit=10)
    assert [r.id for r in across] == [sent.referral_id]

"""FCM and the clinics' CRMs down for half an hour: pushes and outbound referrals wait,
retried with backoff (half to all of 2^attempt seconds), and go out exactly once when
the vendor is back. Half an hour passes on the worker's clock (`run_once(now=…)`), not
on the wall: the fakes answer 503 for as long as the test says.
"""

from datetime import UTC, datetime, timedelta

import pytest

from backend.outbox import worker
from backend.outbox.worker import handlers, run_once
from backend.push.fcm import FcmSender
from backend.services.crm_outbound import OUTBOUND
from backend.store import outbox
from backend.store.tables import Outbox
from tests.fakes import amocrm, bitrix24
from tests.fakes.fcm import FakeFcm, RunningFake
from tests.fakes.service_account import write_key
from tests.http import test_amocrm, test_bitrix24
from tests.http.integration_client import send
from tests.service.test_push_workers import enqueue_pushes

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
OUTAGE = timedelta(minutes=30)
STEP = timedelta(seconds=20)  # how far the worker's clock moves between rounds


async def outage_rounds(topic_handlers, topic: str, start: datetime) -> tuple[datetime, list]:
    """Run the worker across the outage; after each round check every retry was put off
    by half to all of 2^attempt seconds. Returns the clock at the end and the attempts
    seen."""
    now, tries = start, []
    while now - start < OUTAGE:
        before = {r.id: r for r in await outbox.of_topic(topic)}
        await run_once(topic_handlers, worker="w", now=now)
        for row in await outbox.of_topic(topic):
            if row.attempts > before[row.id].attempts:
                tries.append(row.attempts)
                assert row.status == "pending", row  # waiting, not given up
                wait = (row.available_at - now).total_seconds()
                cap = min(2.0**row.attempts, worker.MAX_BACKOFF.total_seconds())
                assert cap / 2 <= wait <= cap, (row.attempts, wait)
        now += STEP
    return now, tries


async def until_done(topic_handlers, topic: str, now: datetime) -> datetime:
    for _ in range(200):
        await run_once(topic_handlers, worker="w", now=now)
        if all(r.status != "pending" for r in await outbox.of_topic(topic)):
            return now
        now += STEP * 6
    return now


@pytest.fixture
def fake_fcm():
    with RunningFake() as fake:
        yield fake


async def test_pushes_wait_out_an_fcm_outage_and_arrive_once(db, fake_fcm: FakeFcm, tmp_path):
    key = write_key(tmp_path / "key.json", token_uri=f"{fake_fcm.base_url}/token")
    sender = FcmSender(
        credentials_path=str(key), project_id="plantrack-test", endpoint=fake_fcm.base_url
    )
    n = 12
    await enqueue_pushes(n, "ok", now=T0, ttl_seconds=86400)
    topics = handlers(sender)
    try:
        fake_fcm.down = True
        now, tries = await outage_rounds(topics, "push", T0)
        assert fake_fcm.received == [] and fake_fcm.refused >= n * 5
        assert {r["status"] for r in await Outbox.select()} == {"pending"}
        fake_fcm.down = False
        end = await until_done(topics, "push", now)
    finally:
        await sender.aclose()
    rows = await outbox.of_topic("push")
    print(
        f"\nFCM down {OUTAGE}: {fake_fcm.refused} sends refused, {len(tries)} retries "
        f"(attempts up to {max(tries)}); all delivered {end - now} after it came back"
    )
    assert {r.status for r in rows} == {"done"}
    tags = sorted(m["android"]["notification"]["tag"] for m in fake_fcm.received)
    assert tags == sorted(f"n{i}" for i in range(n))  # every push once, none twice


def _amocrm_created(account) -> int:
    return sum(1 for r in account.requests if r == ("POST", "/api/v4/leads/complex"))


@pytest.mark.parametrize("system", ["amocrm", "bitrix24"])
async def test_referrals_wait_out_a_crm_outage_and_are_created_once(client, db, system):
    running = amocrm.running() if system == "amocrm" else bitrix24.running()
    with running as crm:
        if system == "amocrm":
            ex, clinic_id, _ = await test_amocrm.setup(client, crm)
        else:
            ex, clinic_id, _ = await test_bitrix24.setup(client, crm)
            crm.down_status = 503
        crm.down = True
        sent = [
            await send(client, ex, clinic_id, f"+7916123470{i}", f"Пациент {i}") for i in range(3)
        ]
        topics = handlers(None, db.secret_key)
        start = max(r.available_at for r in await outbox.of_topic(OUTBOUND))
        now, tries = await outage_rounds(topics, OUTBOUND, start)
        assert crm.refused >= 3 * 5
        crm.down = False
        end = await until_done(topics, OUTBOUND, now)
        rows = await outbox.of_topic(OUTBOUND)
        print(
            f"\n{system} down {OUTAGE}: {crm.refused} calls refused, {len(tries)} retries "
            f"(attempts up to {max(tries)}); all created {end - now} after it came back"
        )
        assert {r.status for r in rows} == {"done"}
        for s in sent:  # each referral made exactly once in the CRM
            if system == "amocrm":
                test_amocrm.lead_of(crm, s["invite_code"])
            else:
                crm.deal_of(s["id"])
        if system == "amocrm":
            assert _amocrm_created(crm) == 3
        else:
            assert crm.methods_called().count("crm.deal.add") == 3

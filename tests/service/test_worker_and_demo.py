"""The outbox worker's outcomes, and the demo's idempotence, on a real database."""

from datetime import timedelta

from backend.demo import load_demo
from backend.push.worker import Outcome, run_once
from backend.store import outbox, referrals
from backend.store.tables import Event, Outbox
from tests.factories import NOW


async def test_worker_logs_fails_and_retries(db):
    await outbox.enqueue(topic="push", payload={"kind": "x"}, now=NOW)
    await outbox.enqueue(topic="nobody.listens", payload={}, now=NOW)
    await outbox.enqueue(topic="flaky", payload={}, now=NOW)

    async def log_only(messages, now):
        return [Outcome(status="logged") for _ in messages]

    async def flaky(messages, now):
        raise ConnectionError("down")

    handlers = {"push": log_only, "flaky": flaky}
    assert await run_once(handlers, worker="w1", now=NOW) == 2
    rows = {r["topic"]: r for r in await Outbox.select()}
    assert rows["push"]["status"] == "logged"
    # A worker takes only the topics it can deliver: the others wait, untouched, for a
    # worker that can (a worker started without some channel does not fail its messages).
    assert rows["nobody.listens"]["status"] == "pending"
    assert rows["nobody.listens"]["attempts"] == 0
    assert rows["flaky"]["status"] == "pending"
    assert rows["flaky"]["attempts"] == 1 and rows["flaky"]["last_error"] == "ConnectionError"
    # Not due again before its backoff; due after it, and then it goes through.
    assert await run_once(handlers, worker="w1", now=NOW) == 0

    async def fine(messages, now):
        return [Outcome(status="done") for _ in messages]

    later = NOW + timedelta(hours=2)
    assert await run_once({"flaky": fine}, worker="w1", now=later) == 1
    assert (await Outbox.select().where(Outbox.topic == "flaky").first())["status"] == "done"


async def test_dedupe_key_enqueues_once(db):
    for _ in range(3):
        await outbox.enqueue(topic="t", payload={}, dedupe_key="same", now=NOW)
    assert await Outbox.count() == 1


async def test_expired_lease_makes_a_message_due_again(db):
    await outbox.enqueue(topic="t", payload={}, now=NOW)
    [taken] = await outbox.claim(worker="dead", limit=10, lease=timedelta(minutes=2), now=NOW)
    assert await outbox.claim(worker="w2", limit=10, lease=timedelta(minutes=2), now=NOW) == []
    [again] = await outbox.claim(
        worker="w2", limit=10, lease=timedelta(minutes=2), now=NOW + timedelta(minutes=3)
    )
    assert again.id == taken.id and again.attempts == 2
    # The dead worker's late completion does not count; the live one's does.
    assert not await outbox.finish(taken.id, worker="dead", status="done", now=NOW)
    assert await outbox.finish(taken.id, worker="w2", status="done", now=NOW)


async def test_demo_is_idempotent(db):
    first = await load_demo(referrals_count=12, now=NOW)
    assert first["referrals"] == 12 and first["clinics"] == 3
    events = await Event.count()
    steps = await referrals.count_by_step()
    again = await load_demo(referrals_count=12, now=NOW + timedelta(days=1))
    assert again == {"clinics": 0, "referrals": 0, "staff": 0}
    assert await Event.count() == events
    assert await referrals.count_by_step() == steps

"""The outbox worker's outcomes, and the demo's idempotence, on a real database."""

from datetime import timedelta

from backend.ops.demo import load_demo
from backend.outbox.worker import run_once
from backend.store import outbox, referrals
from backend.store.outbox import Outcome
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


async def test_the_demo_offers_some_plans_as_three_variants_without_moving_a_figure(db):
    """Seed 004's three ways to replace a lost tooth are in the demo (A implant, B bridge,
    C removable denture, explained visit by visit); A is first and is the plan as it was,
    so until a patient chooses the plan counts what it counted before: the demo's figures
    (docs/sms.md, the README) stay as measured."""
    import random

    from backend.domain.plans import chosen
    from backend.ops.demo import _fate, _name, _plan, offers_variants, with_variants
    from backend.services import patient_reads
    from backend.store.tables import Referral

    offered = []
    for n in range(300):  # the stories as load_demo draws them
        story = random.Random(f"7:{n}")
        story.choices([0, 1, 2], [45, 30, 25])
        _fate(story, 180 * (1 - story.random() ** 1.6))
        _name(story)
        plan = _plan(story)
        if not offers_variants(plan, 7, n):
            continue
        offered.append(n)
        three = with_variants(plan)
        assert [v.variant for v in three.variants] == ["A", "B", "C"]
        counted = [i for i in three.items if i.variant in (None, "A")]
        assert [(i.code, i.tooth, i.price, i.stage) for i in counted] == [
            (i.code, i.tooth, i.price, i.stage) for i in plan.items
        ]
    assert 20 <= len(offered) <= 60 and offered[0] == 0

    await load_demo(referrals_count=1, now=NOW)
    [row] = await Event.select(Event.referral).where(Event.kind == "sent")
    [patient] = await Referral.select(Referral.patient).where(Referral.id == row["referral"])
    bundle = await patient_reads.referral_bundle(patient["patient"], row["referral"], NOW)
    plan = bundle.estimated  # the exchange's plan, as sent (a clinic may have revised it)
    assert plan is not None
    titles = [(v.variant, v.title_ru) for v in plan.variants]
    assert titles == [("A", "Имплантация"), ("B", "Мостовидный протез"), ("C", "Съёмный протез")]
    assert {e.variant for e in plan.explanations} == {None, "A", "B", "C"}
    assert all(e.problem_ru and e.solution_ru and e.visit for e in plan.explanations)
    assert {i.variant for i in chosen(plan.items, None)} == {None, "A"}

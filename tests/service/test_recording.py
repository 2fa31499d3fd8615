"""Recording statements: one transaction from ledger to derived rows and outbox."""

from datetime import timedelta
from uuid import uuid4

import pytest

from backend.domain.events import (
    Closed,
    Contacted,
    Correction,
    ItemDone,
    PatientReport,
    Payment,
    Received,
    Reopened,
    Source,
    Visited,
)
from backend.services import changes
from backend.services.errors import Conflict, Forbidden, Invalid, NotFound
from backend.services.recording import Statement, record, reevaluate_due
from backend.store import ledger, outbox, plans, questions, referrals, verifications
from backend.store.engine import write_transaction
from backend.store.tables import Appointment, Event
from tests.factories import NOW, book, hours, make_clinic, make_referral


def clinic_says(body, key=None, at=None, source=Source.clinic_panel):
    return Statement(body=body, source=source, actor="staff:1", idempotency_key=key, occurred_at=at)


async def test_sending_a_referral_records_plan_and_sent(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    row = await referrals.get(sent.referral_id)
    assert row.step == "sent"
    assert row.estimated_amount == row.planned_amount == 71_500_00
    assert row.remaining_amount == 71_500_00
    assert [e.kind for e in await ledger.events_of(sent.referral_id)] == ["plan_set", "sent"]
    versions = await plans.versions_of(sent.referral_id)
    assert [(v.version, v.origin) for v in versions] == [(1, "estimated")]
    assert len(await plans.teeth_of(versions[0].id)) == 4


async def test_the_same_order_sent_twice_is_one_referral(db):
    clinic = await make_clinic()
    first = await make_referral(clinic, key="order-17")
    again = await make_referral(clinic, key="order-17")
    assert again.duplicate and again.referral_id == first.referral_id
    assert await Event.count() == 2


async def test_claim_moves_the_step_and_asks_the_patient(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    await record(sent.referral_id, clinic_says(Received()), now=hours(1))
    booking = Contacted(outcome="booked", appointment_at=hours(48))
    result = await record(sent.referral_id, clinic_says(booking), now=hours(2))
    assert result.fold.step == "booked"

    row = await referrals.get(sent.referral_id)
    assert (row.step, row.accepted_amount) == ("booked", 71_500_00)
    states = {v.milestone: v.state for v in await verifications.of_referral(sent.referral_id)}
    assert states["contacted"] == states["booked"] == "awaiting_patient"
    appts = await Appointment.select().where(Appointment.referral == sent.referral_id)
    assert [(a["starts_at"], a["status"]) for a in appts] == [(hours(48), "booked")]

    asked = await questions.asked_for(sent.referral_id)
    assert sorted(q.kind for q in asked) == ["confirm_booking", "confirm_contact"]
    messages = await outbox.of_topic("notify")
    assert len(messages) == 2
    assert {m.referral for m in messages} == {sent.referral_id}


async def test_repeated_delivery_is_recorded_once(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    first = await record(sent.referral_id, clinic_says(Visited(), key="crm-9"), now=hours(3))
    again = await record(sent.referral_id, clinic_says(Visited(), key="crm-9"), now=hours(4))
    assert not first.duplicate and again.duplicate
    assert again.event.id == first.event.id
    assert [e.kind for e in await ledger.events_of(sent.referral_id)].count("visited") == 1


async def test_reused_key_for_a_different_statement_is_a_conflict(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    await record(sent.referral_id, clinic_says(Visited(), key="k1"), now=hours(3))
    with pytest.raises(Conflict):
        await record(sent.referral_id, clinic_says(Payment(amount=100), key="k1"), now=hours(4))


async def test_a_redelivery_is_answered_as_the_first_although_the_state_now_refuses_it(db):
    # The recording checks a statement against the referral's state before its key: a
    # reopening delivered again finds the referral open, which a new reopening is not
    # allowed to find; the redelivery is still answered as the first delivery was.
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    await record(sent.referral_id, clinic_says(Closed(reason="refused")), now=hours(2))

    def reopening(key: str) -> Statement:
        return Statement(
            body=Reopened(reason="the patient called back"),
            source=Source.exchange,
            actor="exchange:1",
            idempotency_key=key,
        )

    first = await record(sent.referral_id, reopening("r1"), now=hours(3))
    again = await record(sent.referral_id, reopening("r1"), now=hours(4))
    assert not first.duplicate and again.duplicate
    assert again.event.id == first.event.id
    with pytest.raises(Conflict, match="nothing to reopen"):
        await record(sent.referral_id, reopening("r2"), now=hours(5))
    kinds = [e.kind for e in await ledger.events_of(sent.referral_id)]
    assert kinds.count("reopened") == 1


async def test_an_event_the_stored_fold_has_not_seen_is_folded_from_the_ledger(db):
    # The fold kept with the referral is used only if it saw the newest event: one
    # appended without a recording (an older release, a repair by hand) is not lost.
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    await record(sent.referral_id, clinic_says(Visited(), at=hours(2)), now=hours(2))
    items = await plans.items_of((await plans.versions_of(sent.referral_id))[0].id)
    async with write_transaction():
        await ledger.append(
            referral_id=sent.referral_id,
            body=ItemDone(item_id=items[0].item_id),
            source=Source.clinic_panel,
            actor="staff:1",
            occurred_at=hours(3),
            recorded_at=hours(3),
            idempotency_key="behind-the-back",
        )
    assert (await referrals.get(sent.referral_id)).executed_amount == 0

    result = await record(sent.referral_id, clinic_says(Payment(amount=100_00)), now=hours(4))
    assert items[0].item_id in result.fold.done_items
    row = await referrals.get(sent.referral_id)
    assert (row.step, row.executed_amount, row.paid_amount) == ("in_treatment", 6_500_00, 100_00)


async def test_late_event_folds_in_its_place(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    await record(sent.referral_id, clinic_says(Visited(), at=hours(5)), now=hours(5))
    items = await plans.items_of((await plans.versions_of(sent.referral_id))[0].id)
    await record(
        sent.referral_id,
        clinic_says(ItemDone(item_id=items[0].item_id), at=hours(30)),
        now=hours(30),
    )
    # The CRM delivers, a day late, a booking made before the visit.
    late = Contacted(outcome="booked", appointment_at=hours(5))
    result = await record(sent.referral_id, clinic_says(late, at=hours(1)), now=hours(31))
    assert result.fold.step == "in_treatment"
    assert result.fold.step_at["booked"] == hours(1)
    row = await referrals.get(sent.referral_id)
    assert row.executed_amount == 6_500_00


async def test_patient_cannot_state_a_clinic_claim(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    with pytest.raises(Forbidden):
        await record(
            sent.referral_id,
            Statement(body=Visited(), source=Source.patient_app, actor="patient:1"),
            now=hours(1),
        )
    assert await Event.count() == 2


async def test_clinic_cannot_correct_the_patient(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    said = await record(
        sent.referral_id,
        Statement(
            body=PatientReport(about="contacted"), source=Source.patient_app, actor="patient:1"
        ),
        now=hours(1),
    )
    with pytest.raises(Forbidden):
        await record(
            sent.referral_id,
            clinic_says(Correction(retracts=said.event.id, reason="not true")),
            now=hours(2),
        )


async def test_unknown_item_and_future_claims_are_invalid(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    with pytest.raises(Invalid):
        await record(sent.referral_id, clinic_says(ItemDone(item_id=uuid4())), now=hours(1))
    with pytest.raises(Invalid):
        await record(sent.referral_id, clinic_says(Visited(), at=hours(5)), now=hours(1))


async def test_unknown_referral_is_not_found(db):
    with pytest.raises(NotFound):
        await record(uuid4(), clinic_says(Visited()), now=NOW)


async def test_deadlines_turn_silence_into_overdue(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    row = await referrals.get(sent.referral_id)
    # The clinic's first-contact SLA (two working hours by default; NOW is Monday 10:00
    # in Moscow), the same moment its patient is asked "has the clinic called you?".
    assert row.verification_due_at == hours(2)
    assert await reevaluate_due(now=hours(1)) == 0
    assert await reevaluate_due(now=hours(3)) == 1
    row = await referrals.get(sent.referral_id)
    assert row.overdue_count == 1
    assert await reevaluate_due(now=hours(4)) == 0  # nothing more is due


async def test_a_silent_clinic_is_followed_by_a_question_at_its_sla(db):
    from backend.outbox.worker import handlers, run_once

    clinic = await make_clinic()  # Moscow; NOW is Monday 10:00 there
    sent = await make_referral(clinic)
    [timer] = await outbox.of_topic("timer")
    assert timer.available_at == hours(2) and timer.status == "pending"
    # (The patient's invite SMS is in the outbox too, due at once: only the timer counts.)
    await run_once(handlers(None), worker="w", now=hours(1))
    assert (await outbox.of_topic("timer"))[0].status == "pending"
    await run_once(handlers(None), worker="w", now=hours(2))
    assert (await outbox.of_topic("timer"))[0].status == "done"
    asked = await questions.asked_for(sent.referral_id)
    assert [q.kind for q in asked] == ["contact_check"]
    # The app's sync feed lists the question a timer asked.
    feed = await changes.since(sent.patient_id, 0, 100)
    assert ("question", asked[0].id) in {(c.kind, c.object_id) for c in feed.changes}
    [notice] = await outbox.of_topic("notify")
    assert notice.payload and notice.status == "pending"


async def test_ledger_is_append_only(db):
    clinic = await make_clinic()
    await make_referral(clinic)
    with pytest.raises(Exception, match="append-only"):
        await Event.update({Event.kind: "visited"}).where(Event.id == 1)
    with pytest.raises(Exception, match="append-only"):
        await Event.delete().where(Event.id == 1)
    assert await Event.count() == 2


async def test_patient_answers_settle_the_verification(db):
    from backend.services.answers import answer_question

    clinic = await make_clinic()
    sent = await make_referral(clinic)
    booking = Contacted(outcome="booked", appointment_at=hours(48))
    await record(sent.referral_id, clinic_says(booking), now=hours(2))
    asked = {q.kind: q for q in await questions.asked_for(sent.referral_id)}
    await answer_question(
        patient_id=sent.patient_id,
        question_id=asked["confirm_contact"].id,
        answer="yes",
        now=hours(3),
    )
    await answer_question(
        patient_id=sent.patient_id,
        question_id=asked["confirm_booking"].id,
        answer="no",
        now=hours(3),
    )
    states = {v.milestone: v.state for v in await verifications.of_referral(sent.referral_id)}
    assert (states["contacted"], states["booked"]) == ("verified", "disputed")
    row = await referrals.get(sent.referral_id)
    assert row.disputed_count == 1
    # Each question is marked answered by the event that answers it.
    events = {e.id: e for e in await ledger.events_of(sent.referral_id)}
    for kind, said in (("confirm_contact", "yes"), ("confirm_booking", "no")):
        q = await questions.get(asked[kind].id)
        assert (q.status, q.answer, q.answered_at) == ("completed", said, hours(3))
        answer = events[q.answer_event_id].body
        assert (answer.question_id, answer.answer) == (q.id, said)
    # Loaded back from the ledger, the events fold to the same verdicts.
    from backend.domain.funnel import fold_referral
    from backend.domain.verification import verify

    fold = fold_referral(await ledger.events_of(sent.referral_id))
    assert verify(fold, hours(4))["contacted"].state == "verified"
    with pytest.raises(Conflict):  # answered once; a second answer is refused
        await answer_question(
            patient_id=sent.patient_id,
            question_id=asked["confirm_contact"].id,
            answer="no",
            now=hours(5),
        )


async def test_another_patients_question_is_not_found(db):
    from backend.services.answers import answer_question

    clinic = await make_clinic()
    first = await make_referral(clinic)
    second = await make_referral(clinic, phone="+79161112233")
    await record(first.referral_id, clinic_says(Visited()), now=hours(2))
    [question] = await questions.asked_for(first.referral_id)
    with pytest.raises(NotFound):
        await answer_question(
            patient_id=second.patient_id, question_id=question.id, answer="yes", now=hours(3)
        )


async def test_a_week_of_unanswered_questions_nudges_the_patient_once(db):
    """The inactive timer: a week after the oldest open question, one nudge a week."""
    from backend.domain.clinic_settings import SettingValues
    from backend.outbox.worker import handlers, run_once
    from backend.store import clinic_settings

    clinic = await make_clinic()
    await clinic_settings.save(
        clinic, SettingValues(answer_window_hours=10 * 24), actor="test", now=NOW
    )
    sent = await make_referral(clinic)
    await book(sent.referral_id, hours(24 * 20), now=hours(1))  # two questions asked
    asked = await questions.asked_for(sent.referral_id)
    assert len(asked) == 2
    nudge = next(t for t in await outbox.of_topic("timer") if ":inactive:" in t.dedupe_key)
    assert nudge.available_at == hours(1) + timedelta(days=7)
    await run_once(handlers(None), worker="w", now=hours(7 * 24 + 3))
    year, week, _ = hours(7 * 24 + 3).isocalendar()
    notices = [
        n for n in await outbox.of_topic("notify") if n.dedupe_key.startswith("notify:inactive:")
    ]
    assert [n.dedupe_key for n in notices] == [f"notify:inactive:{sent.patient_id}:{year}-{week}"]

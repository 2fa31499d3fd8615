"""A referral's funnel as dated facts (funnel_facts.referral_facts): which facts a fold
makes, on which local day, with how much money, and how the reserve moves."""

from collections import Counter
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from hypothesis import given, settings

from backend.domain.events import (
    Closed,
    Completed,
    Contacted,
    Correction,
    ItemDone,
    PatientAnswer,
    Payment,
    PlanLine,
    PlanSet,
    ReceiptAttached,
    Source,
    Transferred,
    Visited,
)
from backend.domain.funnel import fold_referral
from backend.domain.funnel_facts import TRANSFER, referral_facts
from backend.domain.money_funnel import ended_at, undone_before
from tests.unit.domain import stories
from tests.unit.domain.stories import MSK, PLAN_ID, A, B, booked
from tests.unit.domain.test_funnel_properties import arrive, logical_events
from tests.unit.ledger_builder import T0, Ledger

NSK = ZoneInfo("Asia/Novosibirsk")


class Story(stories.Story):
    def facts(self, tz=MSK, now: datetime | None = None):
        return referral_facts(self.fold, tz, now or self.t0 + timedelta(days=400))


def receipt(amount: int, issued_at: datetime) -> ReceiptAttached:
    return ReceiptAttached(amount=amount, issued_at=issued_at, fn="1", fd="2", fp="3")


def of(facts, kind):
    return [f for f in facts.facts if f.kind == kind]


def reserve_at(facts, day: date) -> tuple[int, int]:
    """(money, referrals) in the reserve at the end of local `day`."""
    moves = [f for f in of(facts, "reserve") if f.day <= day]
    return sum(f.amount for f in moves), sum(f.count for f in moves)


def test_a_referral_never_sent_has_no_facts():
    ledger = Ledger()
    ledger.add(
        PlanSet(
            plan_id=PLAN_ID,
            version=1,
            origin="estimated",
            currency="RUB",
            lines=[PlanLine(item_id=A, price=100, specialization="therapy")],
        ),
        hours=0,
        source=Source.exchange,
    )
    assert referral_facts(fold_referral(ledger.events), MSK, T0) is None
    assert referral_facts(fold_referral([]), MSK, T0) is None


def test_a_sent_referral_comes_in_with_its_estimate_and_enters_the_reserve():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    facts = s.facts()
    assert facts.sent_day == date(2026, 11, 3)
    assert facts.cohort == "2026-11"
    assert facts.specialization == "therapy"
    assert facts.currency == "RUB"
    [came_in] = of(facts, "in")
    assert (came_in.day, came_in.amount, came_in.count) == (date(2026, 11, 3), 30_000_00, 1)
    assert of(facts, "transferred_in") == []
    assert reserve_at(facts, date(2026, 11, 3)) == (30_000_00, 1)
    # Nothing accepted, done, paid or lost yet.
    assert not {"accepted", "executed", "paid", "lost", "treated"} & {f.kind for f in facts.facts}


def test_the_sending_day_is_the_clinics_local_day_not_utcs():
    # 00:10 on Dec 1 in Moscow is 21:10 UTC on Nov 30.
    s = Story(datetime(2026, 12, 1, 0, 10, tzinfo=MSK))
    facts = s.facts(tz=MSK)
    assert (facts.sent_day, facts.cohort) == (date(2026, 12, 1), "2026-12")
    in_utc = s.facts(tz=ZoneInfo("UTC"))
    assert (in_utc.sent_day, in_utc.cohort) == (date(2026, 11, 30), "2026-11")


def test_an_item_done_late_in_the_evening_counts_on_that_local_day():
    s = Story(datetime(2026, 10, 10, 12, tzinfo=NSK))
    # 23:30 on Oct 31 in Novosibirsk is 16:30 UTC the same day, and Nov 1 never.
    s.say(ItemDone(item_id=A), datetime(2026, 10, 31, 23, 30, tzinfo=NSK))
    [executed] = of(s.facts(tz=NSK), "executed")
    assert (executed.day, executed.amount) == (date(2026, 10, 31), 10_000_00)


def test_anything_dated_before_the_sending_counts_on_the_sending_day():
    s = Story(datetime(2026, 11, 10, 9, tzinfo=MSK))
    s.say(ItemDone(item_id=A), datetime(2026, 11, 1, 9, tzinfo=MSK))  # a clock off
    s.say(Payment(amount=5_000_00), datetime(2026, 11, 2, 9, tzinfo=MSK))
    facts = s.facts()
    assert [f.day for f in of(facts, "executed")] == [date(2026, 11, 10)]
    assert [f.day for f in of(facts, "paid")] == [date(2026, 11, 10)]
    # The reserve never goes below what was sent before the sending.
    assert reserve_at(facts, date(2026, 11, 9)) == (0, 0)


def test_a_booking_accepts_the_current_plan_beside_the_estimate_as_sent():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(booked(s.t0 + timedelta(days=3)), 30)
    # The clinic's own plan, dearer than the estimate.
    s.later(
        PlanSet(
            plan_id=PLAN_ID,
            version=2,
            origin="actual",
            currency="RUB",
            lines=[
                PlanLine(item_id=A, price=12_000_00, specialization="therapy"),
                PlanLine(item_id=B, price=25_000_00, specialization="therapy"),
            ],
            reason="x-ray showed more",
        ),
        40,
    )
    facts = s.facts()
    [accepted] = of(facts, "accepted")
    [estimate] = of(facts, "accepted_estimate")
    assert (accepted.day, accepted.amount, accepted.count) == (date(2026, 11, 4), 37_000_00, 1)
    assert (estimate.day, estimate.amount) == (date(2026, 11, 4), 30_000_00)
    assert accepted.split == "unverified"  # the patient has not said yet
    assert accepted.reason == estimate.reason == ""


def test_a_visit_without_a_booking_accepts_too():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Visited(), 50)
    [accepted] = of(s.facts(), "accepted")
    assert accepted.day == date(2026, 11, 5)


def test_executed_money_is_split_by_what_the_patient_said_of_the_item():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(ItemDone(item_id=A), 24)
    s.later(ItemDone(item_id=B), 48)
    s.later(
        PatientAnswer(question_id=UUID(int=5), milestone=f"item:{A}", answer="yes"),
        30,
        Source.patient_app,
    )
    s.later(
        PatientAnswer(question_id=UUID(int=6), milestone=f"item:{B}", answer="no"),
        50,
        Source.patient_app,
    )
    splits = {f.amount: f.split for f in of(s.facts(), "executed")}
    assert splits == {10_000_00: "verified", 20_000_00: "disputed"}


def test_payments_are_facts_on_their_day_unverified_without_a_receipt():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Payment(amount=7_000_00), 24)
    s.later(Payment(amount=3_000_00), 72)
    paid = sorted((f.day, f.amount, f.split) for f in of(s.facts(), "paid"))
    assert paid == [
        (date(2026, 11, 4), 7_000_00, "unverified"),
        (date(2026, 11, 6), 3_000_00, "unverified"),
    ]


def test_a_retracted_item_is_not_executed_and_stays_in_the_reserve():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    done = s.later(ItemDone(item_id=A), 24)
    s.later(Correction(retracts=done.id, reason="wrong patient"), 48)
    facts = s.facts()
    assert of(facts, "executed") == []
    assert of(facts, "treated") == []
    assert reserve_at(facts, date(2026, 12, 31)) == (30_000_00, 1)


def test_the_reserve_drains_as_items_are_done_and_the_referral_leaves_it_with_the_last():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(ItemDone(item_id=A), 24)  # Nov 4
    assert reserve_at(s.facts(), date(2026, 11, 4)) == (20_000_00, 1)
    s.later(ItemDone(item_id=B), 72)  # Nov 6
    facts = s.facts()
    assert reserve_at(facts, date(2026, 11, 5)) == (20_000_00, 1)
    assert reserve_at(facts, date(2026, 11, 6)) == (0, 0)


def test_a_declined_referral_is_lost_with_its_undone_money_and_leaves_the_reserve():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(50_000_00,))
    s.later(Contacted(outcome="declined", reason="price"), 3)
    facts = s.facts()
    [lost] = of(facts, "lost")
    assert (lost.day, lost.amount, lost.count, lost.reason) == (
        date(2026, 11, 3),
        50_000_00,
        1,
        "price",
    )
    assert reserve_at(facts, date(2026, 11, 3)) == (0, 0)


def test_a_decline_without_a_reason_is_lost_under_its_step():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Contacted(outcome="declined"), 3)
    assert [f.reason for f in of(s.facts(), "lost")] == ["declined"]


def test_a_closed_referral_is_lost_under_its_reason_with_the_money_not_done():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(ItemDone(item_id=A), 24)
    s.later(Closed(reason="moved away"), 96)
    facts = s.facts()
    [lost] = of(facts, "lost")
    assert (lost.day, lost.amount, lost.reason) == (date(2026, 11, 7), 20_000_00, "moved away")
    assert reserve_at(facts, date(2026, 11, 6)) == (20_000_00, 1)
    assert reserve_at(facts, date(2026, 11, 7)) == (0, 0)


def test_items_done_after_completion_move_nothing_in_the_reserve():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Visited(), 10)
    s.later(ItemDone(item_id=A), 11)
    s.later(Completed(), 24)
    s.later(ItemDone(item_id=B), 72)  # the clinic says so afterwards
    facts = s.facts()
    # +sent, -A when done, -B's money at completion (undone then), and out of the count.
    assert [(f.day, f.amount, f.count) for f in of(facts, "reserve")] == [
        (date(2026, 11, 3), 30_000_00, 1),
        (date(2026, 11, 3), -10_000_00, 0),
        (date(2026, 11, 4), -20_000_00, 0),
        (date(2026, 11, 4), 0, -1),
    ]
    # B is still executed money, on its own day.
    assert sorted((f.day, f.amount) for f in of(facts, "executed")) == [
        (date(2026, 11, 3), 10_000_00),
        (date(2026, 11, 6), 20_000_00),
    ]


def test_progress_after_a_closing_reopens_it_so_nothing_is_lost():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Closed(reason="refused"), 24)
    s.later(ItemDone(item_id=A), 72)  # implicit reopening (docs/domain.md)
    facts = s.facts()
    assert of(facts, "lost") == []
    assert reserve_at(facts, date(2026, 12, 31)) == (20_000_00, 1)


def test_a_completed_plan_leaves_the_reserve_at_completion_and_is_not_lost():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Visited(), 24)
    s.later(ItemDone(item_id=A), 24)
    s.later(Completed(), 96)  # B stays undone
    facts = s.facts()
    assert of(facts, "lost") == []
    assert reserve_at(facts, date(2026, 11, 6)) == (20_000_00, 1)
    assert reserve_at(facts, date(2026, 11, 7)) == (0, 0)
    [duration] = of(facts, "duration")
    [planned] = of(facts, "duration_planned")
    assert (duration.day, duration.amount, duration.count) == (date(2026, 11, 7), 3, 1)
    assert planned.day == date(2026, 11, 7) and planned.amount == 7  # therapy's norm
    [started] = of(facts, "started")
    assert (started.day, started.amount) == (date(2026, 11, 4), 24 * 60)
    [treated] = of(facts, "treated")
    assert (treated.day, treated.count, treated.reason) == (date(2026, 11, 4), 1, "")


def test_a_referral_moved_away_is_transferred_out_not_lost():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(ItemDone(item_id=A), 24)
    s.later(Transferred(to_referral_id=UUID(int=42), to_clinic_id=UUID(int=8)), 48, Source.exchange)
    facts = s.facts()
    assert of(facts, "lost") == []
    [out] = of(facts, "transferred_out")
    assert (out.day, out.amount, out.count) == (date(2026, 11, 5), 20_000_00, 1)
    assert reserve_at(facts, date(2026, 11, 5)) == (0, 0)


def test_a_transfer_comes_in_as_transferred_in_and_tags_its_case_figures():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), transferred_from=UUID(int=41))
    s.later(booked(s.t0 + timedelta(days=2)), 5)
    s.later(ItemDone(item_id=A), 72)
    s.later(Payment(amount=10_000_00), 73)
    facts = s.facts()
    assert of(facts, "in") == []
    [came] = of(facts, "transferred_in")
    assert (came.amount, came.count) == (30_000_00, 1)
    tagged = {f.kind for f in facts.facts if f.reason == TRANSFER}
    assert tagged == {"accepted", "accepted_estimate", "executed", "treated"}
    # Money paid is the clinic's money whoever sent the patient: not tagged.
    assert [f.reason for f in of(facts, "paid")] == [""]


def test_the_currency_is_the_plans():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), currency="KZT")
    assert s.facts().currency == "KZT"


def test_a_referral_without_money_has_no_reserve_movements():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(0,))
    facts = s.facts()
    assert of(facts, "reserve") == []
    assert [f.amount for f in of(facts, "in")] == [0]


def test_each_clinic_revision_is_a_fact_with_its_reason_and_change():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.revise(48, (10_000_00,), version=2, reason="B not needed")
    [revision] = of(s.facts(), "revision")
    assert (revision.day, revision.amount, revision.count, revision.reason) == (
        date(2026, 11, 5),
        -20_000_00,
        1,
        "B not needed",
    )


def test_a_booked_plan_expects_its_money_on_its_schedule():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(booked(datetime(2026, 11, 10, 10, tzinfo=MSK)), 5)
    expected = of(s.facts(), "expected")
    # One stage, therapy's seven days from the appointment.
    assert Counter((f.day, f.amount) for f in expected) == Counter(
        {(date(2026, 11, 17), 10_000_00): 1, (date(2026, 11, 17), 20_000_00): 1}
    )


def test_every_referral_has_exactly_one_in_fact_and_reserve_balances_to_zero_when_ended():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(1_00, 2_00, 3_00))
    s.later(ItemDone(item_id=B), 10)
    s.later(Contacted(outcome="declined", reason="fear"), 20)
    facts = s.facts()
    assert Counter(f.kind for f in facts.facts)["in"] == 1
    assert sum(f.amount for f in of(facts, "reserve")) == 0
    assert sum(f.count for f in of(facts, "reserve")) == 0
    [lost] = of(facts, "lost")
    assert lost.amount == 4_00


# --- over generated ledgers (the strategies of test_funnel_properties) -------------------


@settings(max_examples=200, deadline=None)
@given(logical=logical_events)
def test_the_reserve_never_goes_negative_and_ends_at_what_is_left_undone(logical):
    events = arrive(logical, list(range(len(logical) + 2)))
    fold = fold_referral(events)
    facts = referral_facts(fold, MSK, T0 + timedelta(days=60))
    assert Counter(f.kind for f in facts.facts)["in"] == 1
    running_money = running_count = 0
    for day in sorted({f.day for f in of(facts, "reserve")}):
        moves = [f for f in of(facts, "reserve") if f.day == day]
        running_money += sum(f.amount for f in moves)
        running_count += sum(f.count for f in moves)
        assert running_money >= 0 and running_count in (0, 1)
    left = 0 if ended_at(fold) is not None else undone_before(fold, T0 + timedelta(days=3650))
    assert running_money == left
    assert running_count == (1 if left else 0)
    assert sum(f.amount for f in of(facts, "executed")) == fold.money.executed
    assert sum(f.amount for f in of(facts, "paid")) == fold.money.paid


def test_a_payment_backed_by_the_patients_receipt_is_verified_and_one_that_differs_disputed():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Payment(amount=7_000_00), 24)
    s.later(Payment(amount=3_000_00), 200)
    s.later(receipt(7_000_00, s.t0 + timedelta(hours=24)), 30, Source.patient_app)
    s.later(receipt(2_500_00, s.t0 + timedelta(hours=200)), 205, Source.patient_app)
    paid = {f.amount: f.split for f in of(s.facts(), "paid")}
    assert paid == {7_000_00: "verified", 3_000_00: "disputed"}

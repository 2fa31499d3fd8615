"""Plan vs fact (plan_fact): money the schedules expect against money done and paid, by
local month; and per main specialization the average check and the durations."""

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.domain.events import (
    Closed,
    Completed,
    ItemDone,
    PatientAnswer,
    Payment,
    PlanLine,
    Source,
    Visited,
)
from backend.domain.norms import DurationNorm, Specialization, effective_norms
from backend.domain.plan_fact import average, by_specialization, plan_vs_fact
from tests.unit.domain.stories import MSK, A, B, C, Story, booked
from tests.unit.ledger_builder import Ledger

NOW = datetime(2027, 6, 1, tzinfo=MSK)


def months(*stories: Story, tz=MSK, span=("2026-10", "2026-11", "2026-12"), **kw):
    got = plan_vs_fact([(s.referral_id, s.events, tz) for s in stories], list(span), now=NOW, **kw)
    return {m.month: m for m in got}


def specs(*stories: Story, first="2026-11", last="2026-11", **kw):
    return by_specialization([(s.referral_id, s.events, MSK) for s in stories], first, last, **kw)


def mixed(sent_at: datetime, lines: list[tuple[int, str]]) -> Story:
    """A story whose estimate has lines of several specializations."""
    return Story(
        sent_at,
        lines=[
            PlanLine(item_id=UUID(int=10 + n), price=price, specialization=spec)
            for n, (price, spec) in enumerate(lines)
        ],
    )


def test_average_rounds_half_up_and_has_nothing_to_average_without_a_count():
    assert average(5, 2) == 3
    assert average(4, 3) == 1
    assert average(5, 3) == 2
    assert average(0, 4) == 0
    assert average(100, 0) is None


def test_a_plan_expects_its_money_at_the_end_of_its_stage_from_the_booked_appointment():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(booked(datetime(2026, 11, 27, 10, tzinfo=MSK)), 2)  # + 7 days: Dec 4
    got = months(s)
    assert got["2026-12"].expected == 30_000_00
    assert got["2026-11"].expected == got["2026-10"].expected == 0


def test_nothing_is_expected_of_a_plan_neither_booked_nor_begun():
    got = months(Story(datetime(2026, 11, 3, 9, tzinfo=MSK)))
    assert sum(m.expected for m in got.values()) == 0


def test_the_clinics_norms_set_the_schedule():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Visited(), 24)
    slow = effective_norms(
        [
            DurationNorm(
                specialization=Specialization.therapy,
                chair_minutes=60,
                course_days=40,
                source="the clinic",
            )
        ]
    )
    assert months(s)["2026-11"].expected == 30_000_00
    assert months(s, norms=slow)["2026-12"].expected == 30_000_00


def test_an_ended_plans_undone_lines_are_expected_no_more():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Visited(), 24)
    s.later(ItemDone(item_id=A), 25)
    s.later(Closed(reason="moved away"), 48)  # before anything fell due
    assert sum(m.expected for m in months(s).values()) == 10_000_00


def test_executed_and_paid_fall_in_the_clinics_local_month():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    # 23:30 on Nov 30 in Moscow; 00:30 on Dec 1.
    s.say(ItemDone(item_id=A), datetime(2026, 11, 30, 23, 30, tzinfo=MSK))
    s.say(ItemDone(item_id=B), datetime(2026, 12, 1, 0, 30, tzinfo=MSK))
    s.say(Payment(amount=7_00), datetime(2026, 11, 30, 23, 45, tzinfo=MSK))
    got = months(s)
    assert (got["2026-11"].executed, got["2026-12"].executed) == (10_000_00, 20_000_00)
    assert (got["2026-11"].paid, got["2026-12"].paid) == (7_00, 0)
    in_utc = months(s, tz=ZoneInfo("UTC"))
    assert in_utc["2026-11"].executed == 30_000_00


def test_executed_money_is_split_by_the_patients_word_on_each_item():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(ItemDone(item_id=A), 24)
    s.later(ItemDone(item_id=B), 25)
    s.later(
        PatientAnswer(question_id=UUID(int=5), milestone=f"item:{A}", answer="yes"),
        26,
        Source.patient_app,
    )
    split = months(s)["2026-11"].executed_split
    assert (split.verified, split.unverified, split.disputed) == (10_000_00, 20_000_00, 0)


def test_what_is_dated_before_the_sending_counts_in_the_sending_month():
    s = Story(datetime(2026, 11, 1, 0, 30, tzinfo=MSK))
    s.say(ItemDone(item_id=A), datetime(2026, 10, 31, 20, tzinfo=MSK))
    got = months(s)
    assert (got["2026-10"].executed, got["2026-11"].executed) == (0, 10_000_00)


def test_months_not_asked_for_are_left_out_and_months_asked_for_are_all_there():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(ItemDone(item_id=A), 24)
    got = plan_vs_fact([(s.referral_id, s.events, MSK)], ["2027-01", "2026-10"], now=NOW)
    assert [(m.month, m.executed) for m in got] == [("2027-01", 0), ("2026-10", 0)]
    assert plan_vs_fact([], ["2026-11"], now=NOW)[0].expected == 0


def test_a_referral_never_sent_expects_and_executes_nothing():
    ledger = Ledger()
    ledger.add(ItemDone(item_id=A), hours=0)
    got = plan_vs_fact([(ledger.referral_id, ledger.events, MSK)], ["2026-03"], now=NOW)
    assert got[0].executed == 0


# --- by_specialization -------------------------------------------------------------------


def test_sent_accepted_and_treated_cases_are_summed_like_with_like():
    cheap = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(10_000_00,))
    dear = Story(datetime(2026, 11, 4, 9, tzinfo=MSK), prices=(50_000_00,))
    dear.later(booked(dear.t0 + timedelta(days=2)), 1)
    dear.revise(2, (60_000_00,), version=2)
    dear.later(ItemDone(item_id=A), 50)
    [row] = specs(cheap, dear)
    assert (row.specialization, row.referrals, row.estimate_money) == ("therapy", 2, 60_000_00)
    assert (row.accepted, row.plan_money, row.accepted_estimate_money) == (
        1,
        60_000_00,
        50_000_00,
    )
    assert (row.treated, row.executed_money) == (1, 60_000_00)


def test_a_case_sent_outside_the_months_is_not_counted():
    before = Story(datetime(2026, 10, 31, 23, 30, tzinfo=MSK))  # Oct 31 local, 20:30 UTC
    after = Story(datetime(2026, 12, 1, 0, 10, tzinfo=MSK))  # Dec 1 local, Nov 30 UTC
    assert specs(before, after) == []


def test_a_transfer_is_not_a_case_of_its_own():
    moved = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), transferred_from=UUID(int=41))
    moved.later(Visited(), 1)
    moved.later(ItemDone(item_id=A), 2)
    assert specs(moved) == []


def test_plans_completed_in_the_months_give_durations_whenever_sent():
    old = Story(datetime(2026, 9, 1, 9, tzinfo=MSK))
    old.later(Visited(), 24)
    old.say(Completed(), datetime(2026, 11, 20, 12, tzinfo=MSK))
    [row] = specs(old)
    assert (row.referrals, row.completed) == (0, 1)
    assert (
        row.duration_days
        == (datetime(2026, 11, 20, 12, tzinfo=MSK) - (old.t0 + timedelta(hours=24))).days
    )
    assert row.duration_planned_days == 7  # therapy's norm, one stage


def test_a_plan_completed_without_a_start_has_no_duration():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(Completed(), 48)
    [row] = specs(s)
    assert (row.referrals, row.completed, row.duration_days) == (1, 0, 0)


def test_a_case_belongs_to_the_specialization_with_most_of_its_estimate():
    s = mixed(
        datetime(2026, 11, 3, 9, tzinfo=MSK),
        [(10_000_00, "therapy"), (6_000_00, "surgery"), (6_000_00, "surgery")],
    )
    assert [r.specialization for r in specs(s)] == ["surgery"]


def test_a_tie_goes_to_the_specialization_listed_first():
    s = mixed(
        datetime(2026, 11, 3, 9, tzinfo=MSK),
        [(5_000_00, "surgery"), (5_000_00, "therapy")],
    )
    # therapy is listed before surgery (docs/domain.md), though not by the alphabet.
    assert [r.specialization for r in specs(s)] == ["therapy"]


def test_the_clinics_revision_does_not_move_a_case_between_columns():
    s = mixed(datetime(2026, 11, 3, 9, tzinfo=MSK), [(5_000_00, "hygiene")])
    s.revise(
        24,
        version=2,
        reason="implant",
        lines=[PlanLine(item_id=C, price=90_000_00, specialization="implantology")],
    )
    assert [r.specialization for r in specs(s)] == ["hygiene"]


def test_rows_come_in_the_order_of_the_specializations_names():
    one = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), specialization="therapy")
    two = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), specialization="endodontics")
    three = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), specialization="surgery")
    assert [r.specialization for r in specs(one, two, three)] == [
        "endodontics",
        "surgery",
        "therapy",
    ]

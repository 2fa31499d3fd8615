"""Why money was lost and why plans changed (reasons): the clinic's plan revisions read
off a fold, and the per-clinic rows by reason for a period of local days."""

from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.domain.events import (
    Closed,
    Contacted,
    Correction,
    ItemDone,
    PlanLine,
    PlanSet,
    Reopened,
    Source,
    Transferred,
)
from backend.domain.funnel import fold_referral
from backend.domain.reasons import NO_REASON, ReasonRow, plan_revisions, reasons_by_clinic
from tests.unit.domain.stories import MSK, PLAN_ID, A, B, Story
from tests.unit.ledger_builder import CLINIC, Ledger

NOVEMBER = dict(first=date(2026, 11, 1), last=date(2026, 11, 30))
OTHER = UUID(int=8)


def variants_plan(version: int, *, chosen: str | None, origin="actual") -> PlanSet:
    return PlanSet(
        plan_id=PLAN_ID,
        version=version,
        origin=origin,
        currency="RUB",
        lines=[
            PlanLine(item_id=A, price=1_000_00, specialization="therapy"),
            PlanLine(item_id=B, price=5_000_00, specialization="therapy", variant="A"),
            PlanLine(item_id=UUID(int=3), price=9_000_00, specialization="therapy", variant="B"),
        ],
        chosen_variant=chosen,
        reason="variants",
    )


def rows(*stories: Story, tz=MSK, **period):
    return reasons_by_clinic(
        [(s.referral_id, s.events, tz) for s in stories], **(period or NOVEMBER)
    )


def brief(rows: list[ReasonRow]):
    return [(r.clinic_id, r.kind, r.reason, r.count, r.money) for r in rows]


# --- plan_revisions ----------------------------------------------------------------------


def test_a_referral_never_sent_has_no_revisions():
    ledger = Ledger()
    ledger.add(variants_plan(1, chosen=None), hours=0)
    ledger.add(variants_plan(2, chosen="B"), hours=1)
    assert plan_revisions(fold_referral(ledger.events)) == []


def test_the_estimate_alone_is_not_a_revision():
    assert plan_revisions(Story(datetime(2026, 11, 3, 9, tzinfo=MSK)).fold) == []


def test_a_clinic_version_is_a_revision_against_the_version_before_it():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))  # 30k
    s.revise(24, (10_000_00, 25_000_00), version=2, reason="  more work  ")
    s.revise(48, (10_000_00,), version=3, reason=None)
    revisions = plan_revisions(s.fold)
    assert [(r.version, r.change, r.reason) for r in revisions] == [
        (2, 5_000_00, "more work"),  # reasons are trimmed
        (3, -25_000_00, NO_REASON),
    ]
    assert revisions[0].at == s.t0 + timedelta(hours=24)


def test_an_exchange_estimate_after_the_first_is_not_the_clinics_revision():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.later(
        PlanSet(
            plan_id=PLAN_ID,
            version=2,
            origin="estimated",
            currency="RUB",
            lines=[PlanLine(item_id=A, price=1_00, specialization="therapy")],
        ),
        5,
        Source.exchange,
    )
    s.revise(24, (2_00,), version=3)
    # The clinic's version 3 is measured against the estimate before it (1.00).
    assert [(r.version, r.change) for r in plan_revisions(s.fold)] == [(3, 1_00)]


def test_a_revision_counts_the_chosen_variant_else_the_first_offered():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(1_000_00,))
    s.later(variants_plan(2, chosen=None), 24)  # A's 1k + variant A's 5k = 6k
    s.later(variants_plan(3, chosen="B"), 48)  # 1k + 9k = 10k
    assert [r.change for r in plan_revisions(s.fold)] == [5_000_00, 4_000_00]


def test_versions_are_taken_in_version_order_not_arrival_order():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))  # 30k
    s.revise(48, (40_000_00,), version=3)
    s.revise(24, (35_000_00,), version=2)
    assert [(r.version, r.change) for r in plan_revisions(s.fold)] == [
        (2, 5_000_00),
        (3, 5_000_00),
    ]


def test_a_version_taken_back_is_not_a_revision():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))  # 30k
    wrong = s.revise(24, (90_000_00,), version=2)
    s.later(Correction(retracts=wrong.id, reason="wrong patient"), 25, Source.exchange)
    s.revise(48, (20_000_00,), version=3)
    assert [(r.version, r.change) for r in plan_revisions(s.fold)] == [(3, -10_000_00)]


def test_a_revision_dated_before_the_sending_counts_at_the_sending():
    s = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    s.revise(-30, (1_00,), version=2)
    [revision] = plan_revisions(s.fold)
    assert revision.at == s.t0


# --- reasons_by_clinic -------------------------------------------------------------------


def test_lost_money_is_counted_by_reason_in_the_period_of_the_loss():
    price = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(50_000_00,))
    price.later(Contacted(outcome="declined", reason="price"), 3)
    fear = Story(datetime(2026, 11, 4, 9, tzinfo=MSK), prices=(7_000_00,))
    fear.later(ItemDone(item_id=A), 1)  # nothing left to lose on A
    fear.later(Closed(reason="fear"), 5)
    silent = Story(datetime(2026, 11, 5, 9, tzinfo=MSK))
    silent.later(Contacted(outcome="declined"), 3)
    assert brief(rows(price, fear, silent)) == [
        (CLINIC, "lost", "price", 1, 50_000_00),
        (CLINIC, "lost", "declined", 1, 30_000_00),  # no reason given: the step
        (CLINIC, "lost", "fear", 1, 0),
    ]


def test_a_loss_on_the_last_evening_of_the_month_is_that_months():
    # 23:30 in Moscow on Nov 30 is 20:30 UTC; 00:30 on Dec 1 is December's.
    late = Story(datetime(2026, 11, 30, 20, tzinfo=MSK))
    late.say(Closed(reason="refused"), datetime(2026, 11, 30, 23, 30, tzinfo=MSK))
    later = Story(datetime(2026, 11, 30, 20, tzinfo=MSK))
    later.say(Closed(reason="moved"), datetime(2026, 12, 1, 0, 30, tzinfo=MSK))
    assert [r.reason for r in rows(late, later)] == ["refused"]
    # In UTC both fall on Nov 30.
    assert sorted(r.reason for r in rows(late, later, tz=ZoneInfo("UTC"))) == ["moved", "refused"]


def test_a_loss_before_the_sending_counts_on_the_sending_day():
    s = Story(datetime(2026, 11, 1, 0, 30, tzinfo=MSK))
    s.say(Closed(reason="refused"), datetime(2026, 10, 31, 23, 0, tzinfo=MSK))
    assert [r.reason for r in rows(s)] == ["refused"]


def test_reopened_and_transferred_referrals_are_not_lost():
    reopened = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    reopened.later(Closed(reason="refused"), 3)
    reopened.later(Reopened(reason="changed their mind"), 30, Source.exchange)
    moved = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    moved.later(Transferred(to_referral_id=UUID(int=41), to_clinic_id=OTHER), 3, Source.exchange)
    assert rows(reopened, moved) == []


def test_revisions_are_counted_in_their_period_by_reason_with_their_net_change():
    s = Story(datetime(2026, 10, 20, 9, tzinfo=MSK))  # 30k
    s.say(
        PlanSet(
            plan_id=PLAN_ID,
            version=2,
            origin="actual",
            currency="RUB",
            lines=[PlanLine(item_id=A, price=40_000_00, specialization="therapy")],
            reason="october",
        ),
        datetime(2026, 10, 31, 12, tzinfo=MSK),
    )
    t = datetime(2026, 11, 2, 12, tzinfo=MSK)
    for n, (price, reason) in enumerate(
        [(30_000_00, "x-ray"), (35_000_00, "x-ray"), (95_000_00, "implant")], start=3
    ):
        s.say(
            PlanSet(
                plan_id=PLAN_ID,
                version=n,
                origin="actual",
                currency="RUB",
                lines=[PlanLine(item_id=A, price=price, specialization="therapy")],
                reason=reason,
            ),
            t + timedelta(days=n),
        )
    assert brief(rows(s)) == [
        (CLINIC, "revision", "x-ray", 2, -10_000_00 + 5_000_00),
        (CLINIC, "revision", "implant", 1, 60_000_00),  # more money, fewer revisions
    ]


def test_rows_are_per_clinic_lost_before_revisions_and_most_first():
    ours = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(1_00,))
    ours.later(Closed(reason="b-small"), 3)
    big = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(9_00,))
    big.revise(1, (8_00,), version=2, reason="trim")
    big.later(Closed(reason="z-big"), 3)
    theirs = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(5_00,), clinic=OTHER)
    theirs.later(Closed(reason="a"), 3)
    got = [(r.clinic_id, r.kind, r.reason) for r in rows(theirs, ours, big)]
    assert got == sorted(
        [
            (CLINIC, "lost", "z-big"),
            (CLINIC, "lost", "b-small"),
            (CLINIC, "revision", "trim"),
            (OTHER, "lost", "a"),
        ],
        key=lambda r: str(r[0]),
    )


def test_ties_in_money_are_broken_by_reason():
    one = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(5_00,))
    one.later(Closed(reason="beta"), 3)
    two = Story(datetime(2026, 11, 3, 9, tzinfo=MSK), prices=(5_00,))
    two.later(Closed(reason="alpha"), 3)
    assert [r.reason for r in rows(one, two)] == ["alpha", "beta"]


def test_a_referral_never_sent_is_in_no_row():
    ledger = Ledger()
    ledger.add(Closed(reason="refused"), hours=0)
    assert reasons_by_clinic([(ledger.referral_id, ledger.events, MSK)], **NOVEMBER) == []

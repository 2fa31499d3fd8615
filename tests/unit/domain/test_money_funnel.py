"""The funnel in money and the scorecard, on small ledgers computed by hand."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from backend.domain.events import (
    Closed,
    Contacted,
    ContactRating,
    Correction,
    ItemDone,
    PatientAnswer,
    PatientReport,
    Payment,
    PlanLine,
    PlanSet,
    Sent,
    Source,
    Visited,
)
from backend.domain.money_funnel import period_funnel
from backend.domain.scorecard import scorecard, wilson_lower_bound
from tests.unit.ledger_builder import CLINIC, Ledger

MSK = ZoneInfo("Europe/Moscow")
# November 2026 in Moscow: [Nov 1 00:00 MSK, Dec 1 00:00 MSK).
NOV = datetime(2026, 11, 1, tzinfo=MSK)
DEC = datetime(2026, 12, 1, tzinfo=MSK)
NOVEMBER = dict(first=date(2026, 11, 1), last=date(2026, 11, 30))
A, B, C = UUID(int=1), UUID(int=2), UUID(int=3)


class Story(Ledger):
    def __init__(self, sent_at: datetime, prices=(10_000_00, 20_000_00)) -> None:
        super().__init__()
        self.t0 = sent_at
        lines = [
            PlanLine(item_id=i, price=p, specialization="therapy")
            for i, p in zip((A, B, C), prices, strict=False)
        ]
        self.say(
            PlanSet(
                plan_id=UUID(int=9), version=1, origin="estimated", currency="RUB", lines=lines
            ),
            sent_at,
            Source.exchange,
        )
        self.say(Sent(clinic_id=CLINIC), sent_at, Source.exchange)

    def say(self, body, at: datetime, source=Source.clinic_panel):
        hours = (at - datetime(2026, 3, 2, 9, 0, tzinfo=UTC)).total_seconds() / 3600
        return self.add(body, hours=hours, source=source)


def booked(at):
    return Contacted(
        outcome="booked", appointment_at=at + timedelta(days=2), appointment_id=UUID(int=77)
    )


def test_a_month_by_hand():
    # 1) October referral, treated in November: its money is "executed from earlier plans".
    old = Story(datetime(2026, 10, 10, 12, tzinfo=MSK))
    old.say(booked(old.t0), old.t0 + timedelta(days=1))
    old.say(ItemDone(item_id=A), datetime(2026, 11, 5, 10, tzinfo=MSK))
    old.say(Payment(amount=10_000_00), datetime(2026, 11, 5, 10, 5, tzinfo=MSK))
    # 2) November referral, booked in November, one item on the last evening of the month
    #    (23:30 local on the 30th belongs to November even though it is 20:30 UTC).
    new = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    new.say(booked(new.t0), new.t0 + timedelta(hours=5))
    new.say(ItemDone(item_id=B), datetime(2026, 11, 30, 23, 30, tzinfo=MSK))
    # 3) November referral declined in November: lost by reason "price".
    lost = Story(datetime(2026, 11, 10, 9, tzinfo=MSK), prices=(50_000_00,))
    lost.say(Contacted(outcome="declined", reason="price"), lost.t0 + timedelta(hours=3))
    # 4) Sent on Dec 1 at 00:10 Moscow time: not November's.
    late = Story(datetime(2026, 12, 1, 0, 10, tzinfo=MSK))

    f = period_funnel(
        [(UUID(int=n), s.events, MSK) for n, s in enumerate((old, new, lost, late))],
        **NOVEMBER,
        now=DEC + timedelta(days=10),
    )
    assert (f.in_count, f.in_money) == (2, 30_000_00 + 50_000_00)
    assert (f.accepted_count, f.accepted_money) == (1, 30_000_00)  # old was accepted in Oct
    assert f.executed_money == 10_000_00 + 20_000_00
    assert (f.executed_earlier, f.executed_this_period) == (10_000_00, 20_000_00)
    assert f.paid_money == 10_000_00
    # Reserve at Dec 1: old has B (20k) left, new has A (10k) left; the declined one none.
    assert f.reserve_money == 30_000_00 and f.reserve_count == 2
    assert f.reserve_by_cohort == {"2026-10": 20_000_00, "2026-11": 10_000_00}
    assert (f.lost_count, f.lost_money) == (1, 50_000_00)
    assert f.lost_by_reason["price"].money == 50_000_00
    # Nobody answered anything: every executed kopeck is unverified.
    assert f.executed_split.unverified == f.executed_money


def test_executed_money_is_split_by_what_the_patient_said():
    s = Story(datetime(2026, 11, 2, 9, tzinfo=MSK))
    s.say(ItemDone(item_id=A), datetime(2026, 11, 10, tzinfo=MSK))
    s.say(ItemDone(item_id=B), datetime(2026, 11, 11, tzinfo=MSK))
    s.say(
        PatientAnswer(question_id=UUID(int=5), milestone=f"item:{A}", answer="yes"),
        datetime(2026, 11, 10, 12, tzinfo=MSK),
        Source.patient_app,
    )
    s.say(
        PatientAnswer(question_id=UUID(int=6), milestone=f"item:{B}", answer="no"),
        datetime(2026, 11, 11, 12, tzinfo=MSK),
        Source.patient_app,
    )
    f = period_funnel([(UUID(int=1), s.events, MSK)], **NOVEMBER, now=DEC)
    assert (f.executed_split.verified, f.executed_split.disputed) == (10_000_00, 20_000_00)


def test_a_correction_restates_the_past_month():
    s = Story(datetime(2026, 10, 2, 9, tzinfo=MSK))
    done = s.say(ItemDone(item_id=A), datetime(2026, 10, 20, tzinfo=MSK))
    october = dict(first=date(2026, 10, 1), last=date(2026, 10, 31), now=DEC)
    assert period_funnel([(A, s.events, MSK)], **october).executed_money == 10_000_00
    s.say(Correction(retracts=done.id, reason="wrong patient"), datetime(2026, 11, 15, tzinfo=MSK))
    assert period_funnel([(A, s.events, MSK)], **october).executed_money == 0


def test_wilson_lower_bound_does_not_reward_small_samples():
    assert wilson_lower_bound(3, 3) < wilson_lower_bound(95, 100)
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(50, 100) == pytest.approx(0.4038, abs=1e-4)


def test_scorecard_counts_trust_speed_and_what_patients_say():
    quick = Story(datetime(2026, 11, 2, 9, tzinfo=MSK))
    quick.say(booked(quick.t0), quick.t0 + timedelta(hours=2))
    quick.say(
        PatientAnswer(question_id=UUID(int=5), milestone="contacted", answer="yes"),
        quick.t0 + timedelta(hours=3),
        Source.patient_app,
    )
    quick.say(
        ContactRating(called=True, stars=5), quick.t0 + timedelta(hours=4), Source.patient_app
    )
    slow = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    slow.say(
        ContactRating(called=False, stars=1), slow.t0 + timedelta(hours=30), Source.patient_app
    )
    slow.say(booked(slow.t0), slow.t0 + timedelta(hours=40))
    slow.say(Visited(), slow.t0 + timedelta(hours=90))
    slow.say(PatientReport(about="visited"), slow.t0 + timedelta(hours=91), Source.patient_app)
    closed = Story(datetime(2026, 11, 4, 9, tzinfo=MSK))
    closed.say(Closed(reason="moved"), closed.t0 + timedelta(hours=1))

    card = scorecard(
        [(UUID(int=n), s.events) for n, s in enumerate((quick, slow, closed))],
        now=DEC + timedelta(days=30),
    )
    assert card.referrals == 3
    # quick: contacted verified (answered yes), booked unverified (no answer in time).
    # slow: the "nobody called" rating came before the call was logged, so it disputes
    # nothing; the later report "I came" confirms both the call and the visit; booked is
    # unverified. Judged 5, confirmed 3; the closed one claimed nothing to judge.
    assert (card.claims_judged, card.claims_confirmed) == (5, 3)
    assert card.trust == pytest.approx(0.6)
    assert card.first_contact_hours_clinic == pytest.approx((2 + 40) / 2)
    # Patient-reported: quick's "yes" did not say when the call came (the tap is not the
    # call, test_contact_time.py); slow's report is dated by the patient: 91 h.
    assert card.first_contact_hours_patient == pytest.approx(91)
    assert (card.asked_about_contact, card.nobody_called) == (2, 0)
    assert card.rating_average == pytest.approx(3.0)
    assert card.reached["visited"] == 1 and card.reached["booked"] == 2

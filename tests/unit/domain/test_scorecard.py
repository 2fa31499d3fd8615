"""A clinic's scorecard (scorecard): trust and its Wilson bound, first contact as the
clinic and as patients say, "nobody called", ratings, how far referrals got and where
patients answered. The month by hand is in test_money_funnel.py; these are the edges."""

from datetime import datetime, timedelta
from uuid import UUID

import pytest

from backend.domain.events import (
    Contacted,
    ContactRating,
    Correction,
    PatientAnswer,
    PatientReport,
    Source,
    Visited,
)
from backend.domain.scorecard import ANSWER_CHANNELS, answer_channel, scorecard, wilson_lower_bound
from tests.unit.domain.stories import MSK, Story, booked
from tests.unit.ledger_builder import Ledger

NOW = datetime(2027, 1, 1, tzinfo=MSK)


def story(day: int = 3) -> Story:
    return Story(datetime(2026, 11, day, 9, tzinfo=MSK))


def card(*stories: Ledger):
    return scorecard([(s.referral_id, s.events) for s in stories], now=NOW)


def answer(word: str, **when) -> PatientAnswer:
    return PatientAnswer(question_id=UUID(int=5), milestone="contacted", answer=word, **when)


def test_an_empty_clinic_has_nothing_to_say_and_no_division_by_zero():
    empty = card()
    assert empty.referrals == 0
    assert (empty.trust, empty.trust_lower_bound) == (None, 0.0)
    assert empty.first_contact_hours_clinic is None
    assert empty.first_contact_hours_patient is None
    assert empty.nobody_called_share is None and empty.rating_average is None
    assert set(empty.answered_by) == set(ANSWER_CHANNELS)
    assert set(empty.answered_by.values()) == {0}
    assert set(empty.reached.values()) == {0}


def test_a_referral_never_sent_is_not_the_clinics():
    ledger = Ledger()
    ledger.add(Contacted(outcome="unreachable"), hours=0)
    assert card(ledger).referrals == 0


def test_the_wilson_bound_grows_with_the_evidence_and_stays_below_the_share():
    assert wilson_lower_bound(1, 1) < wilson_lower_bound(10, 10) < wilson_lower_bound(100, 100)
    for confirmed, judged in ((1, 2), (9, 10), (95, 100), (100, 100)):
        assert 0.0 <= wilson_lower_bound(confirmed, judged) < confirmed / judged
    assert wilson_lower_bound(0, 10) == pytest.approx(0.0, abs=1e-12)


def test_trust_is_confirmed_claims_over_judged_ones():
    confirmed = story()
    confirmed.later(Contacted(outcome="unreachable"), 1)
    confirmed.later(booked(confirmed.t0 + timedelta(days=2)), 2)
    confirmed.later(answer("yes"), 3, Source.patient_app)
    denied = story()
    denied.later(booked(denied.t0 + timedelta(days=2)), 2)
    denied.later(answer("no"), 3, Source.patient_app)
    got = card(confirmed, denied)
    # contacted: one verified, one disputed; booked: both unanswered past the window.
    assert (got.claims_judged, got.claims_confirmed, got.disputed) == (4, 1, 1)
    assert got.trust == pytest.approx(0.25)
    assert got.trust_lower_bound == pytest.approx(wilson_lower_bound(1, 4))


def test_a_retracted_claim_is_not_judged():
    s = story()
    claim = s.later(booked(s.t0 + timedelta(days=2)), 2)
    s.later(Correction(retracts=claim.id, reason="wrong patient"), 3, Source.exchange)
    got = card(s)
    assert got.claims_judged == 0 and got.trust is None
    assert got.first_contact_hours_clinic is None


def test_first_contact_as_the_clinic_says_is_the_median_of_its_first_claims():
    stories = []
    for n, first in enumerate((1, 4, 30)):
        s = story(3 + n)
        s.later(Contacted(outcome="unreachable"), first / 2)  # not reaching them is no contact
        s.later(booked(s.t0 + timedelta(days=3)), first)
        s.later(booked(s.t0 + timedelta(days=4)), first + 5)  # a later claim is not first
        stories.append(s)
    assert card(*stories).first_contact_hours_clinic == pytest.approx(4)


def test_a_call_the_patient_dates_before_the_sending_counts_as_zero_hours():
    s = story()
    # A report dated before the sending (a clock off): the call came no earlier than it.
    s.later(PatientReport(about="contacted"), -3, Source.patient_app)
    assert card(s).first_contact_hours_patient == 0


def test_a_contact_claim_dated_before_the_sending_counts_as_zero_hours():
    s = story()
    s.later(booked(s.t0 + timedelta(days=2)), -3)  # the clinic's clock is off
    assert card(s).first_contact_hours_clinic == 0


def test_nobody_called_is_the_patients_last_word_and_unsure_says_nothing():
    changed_mind = story()
    changed_mind.later(answer("no"), 5, Source.patient_app)
    changed_mind.later(answer("yes"), 9, Source.patient_app)
    still_no = story()
    still_no.later(answer("yes"), 5, Source.patient_app)
    still_no.later(answer("no"), 9, Source.patient_app)
    still_no.later(answer("unsure"), 12, Source.patient_app)
    only_unsure = story()
    only_unsure.later(answer("unsure"), 5, Source.patient_app)
    got = card(changed_mind, still_no, only_unsure)
    assert (got.asked_about_contact, got.nobody_called) == (2, 1)
    assert got.nobody_called_share == pytest.approx(0.5)


def test_each_patients_latest_stars_count_once_and_ratings_without_stars_not_at_all():
    twice = story()
    twice.later(ContactRating(called=True, stars=1), 5, Source.patient_app)
    twice.later(ContactRating(called=True, stars=5), 9, Source.patient_app)
    twice.later(ContactRating(called=True, stars=None), 12, Source.patient_app)
    once = story()
    once.later(ContactRating(called=True, stars=2), 5, Source.patient_app)
    got = card(twice, once)
    assert got.ratings == 2
    assert got.rating_average == pytest.approx((5 + 2) / 2)


def test_reached_counts_every_step_on_the_way():
    waiting = story()
    came = story()
    came.later(booked(came.t0 + timedelta(days=1)), 1)
    came.later(Visited(), 30)
    got = card(waiting, came)
    assert got.reached["sent"] == 2
    assert got.reached["booked"] == got.reached["visited"] == 1
    assert got.reached["completed"] == 0


def test_where_the_patient_answered_app_sms_both_or_never():
    assert answer_channel([]) == "none"
    app, sms, both, silent = story(), story(), story(), story()
    app.later(answer("yes"), 5, Source.patient_app)
    sms.later(answer("yes"), 5, Source.patient_sms)
    both.later(answer("yes"), 5, Source.patient_app)
    both.later(ContactRating(called=True, stars=4), 6, Source.patient_sms)
    silent.later(Contacted(outcome="unreachable"), 1)  # the clinic speaking is not the patient
    assert [answer_channel(s.events) for s in (app, sms, both, silent)] == [
        "app",
        "sms",
        "both",
        "none",
    ]
    assert card(app, sms, both, silent).answered_by == {"app": 1, "sms": 1, "both": 1, "none": 1}


def test_demo_data_speaks_for_the_patient_in_the_app():
    s = story()
    s.later(answer("yes"), 5, Source.demo)
    assert answer_channel(s.events) == "app"

"""The first-contact time patients report: when they say the call came, not when they
tapped (issue 20)."""

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from backend.domain.contact_time import (
    BadCallTime,
    call_window,
    call_window_on,
    reported_call_time,
)
from backend.domain.events import ContactRating, PatientAnswer, Source
from backend.domain.scorecard import scorecard

from .test_money_funnel import Story

MSK = ZoneInfo("Europe/Moscow")


def yes(**when) -> PatientAnswer:
    return PatientAnswer(question_id=UUID(int=5), milestone="contacted", answer="yes", **when)


def test_patients_report_when_the_call_came_not_when_they_tapped():
    # Called 2 h after sending; the patient answered the next afternoon, with the time.
    exact = Story(datetime(2026, 11, 2, 9, tzinfo=MSK))
    said = exact.t0 + timedelta(hours=30)
    call = exact.t0 + timedelta(hours=2)
    exact.say(yes(called_on="at", called_after=call, called_before=call), said, Source.patient_app)
    # Sent at 09:00 on the 3rd; the patient said "yesterday" at 20:00 on the 4th: the
    # call came between 09:00 (sending) and midnight, 16:30 in the middle: 7.5 hours.
    rough = Story(datetime(2026, 11, 3, 9, tzinfo=MSK))
    said = datetime(2026, 11, 4, 20, tzinfo=MSK)
    _, after, before = call_window("yesterday", None, said, MSK)
    rough.say(
        ContactRating(
            called=True, stars=4, called_on="yesterday", called_after=after, called_before=before
        ),
        said,
        Source.patient_app,
    )
    # A "yes" without saying when gives no time at all (the tap is not the call).
    silent = Story(datetime(2026, 11, 4, 9, tzinfo=MSK))
    silent.say(yes(), silent.t0 + timedelta(hours=50), Source.patient_app)

    card = scorecard(
        [(UUID(int=n), s.events) for n, s in enumerate((exact, rough, silent))],
        now=datetime(2026, 12, 1, tzinfo=MSK),
    )
    assert card.first_contact_hours_patient == pytest.approx((2.0 + 7.5) / 2)
    assert card.asked_about_contact == 3 and card.nobody_called == 0


def test_the_words_mean_spans_of_the_patients_day():
    said = datetime(2026, 11, 4, 20, tzinfo=MSK)
    midnight = datetime(2026, 11, 4, tzinfo=MSK)
    assert call_window("today", None, said, MSK) == ("today", midnight, said)
    assert call_window("yesterday", None, said, MSK) == (
        "yesterday",
        midnight - timedelta(days=1),
        midnight,
    )
    assert call_window("earlier", None, said, MSK) == (
        "earlier",
        None,
        midnight - timedelta(days=1),
    )
    at = said - timedelta(hours=5)
    assert call_window(None, at, said, MSK) == ("at", at, at)
    assert call_window(None, None, said, MSK) == (None, None, None)
    for bad in (
        ("today", at),
        (None, said + timedelta(minutes=1)),
        (None, at.replace(tzinfo=None)),
    ):
        with pytest.raises(BadCallTime):
            call_window(*bad, said, MSK)


def test_a_span_is_kept_between_sending_and_answering():
    sent = datetime(2026, 11, 3, 9, tzinfo=MSK)
    said = datetime(2026, 11, 3, 15, tzinfo=MSK)
    # "Earlier" than yesterday about a referral sent today: the sending is all we know.
    assert reported_call_time(None, sent - timedelta(days=1), sent_at=sent, said_at=said) == sent
    # "Today", answered at 15:00 about a referral sent at 09:00: noon.
    today = datetime(2026, 11, 3, tzinfo=MSK)
    assert reported_call_time(today, said, sent_at=sent, said_at=said) == sent + timedelta(hours=3)


def test_a_calendar_day_means_its_span_in_the_patients_zone():
    said = datetime(2026, 11, 4, 20, tzinfo=MSK)
    assert call_window_on(said.date(), said, MSK) == call_window("today", None, said, MSK)
    yesterday = said.date() - timedelta(days=1)
    assert call_window_on(yesterday, said, MSK) == call_window("yesterday", None, said, MSK)
    earlier = said.date() - timedelta(days=3)
    assert call_window_on(earlier, said, MSK) == (
        "earlier",
        datetime(2026, 11, 1, tzinfo=MSK),
        datetime(2026, 11, 2, tzinfo=MSK),
    )
    with pytest.raises(BadCallTime):
        call_window_on(said.date() + timedelta(days=1), said, MSK)
    # 23:30 UTC on the 4th is already the 5th in Moscow: "today" is the patient's day.
    late = datetime(2026, 11, 4, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert call_window_on(datetime(2026, 11, 5).date(), late, MSK)[0] == "today"

"""Timers: the working-hours SLA, reminders that follow a moved appointment, quiet hours
for reminders (the clock arithmetic itself: test_working_time.py)."""

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from backend.domain.events import (
    Closed,
    Completed,
    Contacted,
    NoShow,
    PatientReport,
    Reopened,
    Sent,
    Source,
    Visited,
)
from backend.domain.funnel import fold_referral
from backend.domain.reminders import (
    Action,
    ReminderContext,
    Timer,
    TimerKind,
    decide,
    timers_for,
)
from tests.unit.ledger_builder import CLINIC, Ledger, at

MSK = ZoneInfo("Europe/Moscow")
CTX = ReminderContext(clinic_tz=MSK)


def sent(hours_before_monday_10=0) -> Ledger:
    ledger = Ledger()
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    return ledger


def kinds(ledger: Ledger, ctx=CTX) -> dict[str, datetime]:
    return {t.key: t.at for t in timers_for(fold_referral(ledger.events), ctx)}


def test_silent_clinic_gets_a_contact_check_at_its_sla():
    ledger = sent()  # at(0) = Monday 2 March 2026, 09:00 UTC = 12:00 Moscow
    timers = kinds(ledger)
    assert timers == {"contact_check": at(2)}
    # A call logged, or the patient saying they were called, removes it.
    ledger.add(PatientReport(about="contacted"), hours=1, source=Source.patient_app)
    assert "contact_check" not in kinds(ledger)


def test_an_appointment_gets_reminders_and_a_did_you_go():
    ledger = sent()
    appt = UUID(int=1)
    ledger.add(Contacted(outcome="booked", appointment_at=at(72), appointment_id=appt), hours=1)
    timers = kinds(ledger)
    stamp = at(72).isoformat()
    assert timers == {
        f"remind_24h:{appt}:{stamp}": at(48),
        f"remind_2h:{appt}:{stamp}": at(70),
        f"visit_check:{appt}:{stamp}": at(75),
    }


def test_a_moved_appointment_never_keeps_the_old_reminders():
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(72), appointment_id=UUID(int=1)), hours=1
    )
    old = set(kinds(ledger))
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(120), appointment_id=UUID(int=2)), hours=30
    )
    new = kinds(ledger)
    assert not old & set(new)
    assert sorted(new.values()) == [at(96), at(118), at(123)]


def test_a_booking_for_tomorrow_morning_skips_the_24h_reminder():
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(20), appointment_id=UUID(int=1)), hours=1
    )
    assert {k.split(":")[0] for k in kinds(ledger)} == {"remind_2h", "visit_check"}


def test_visit_or_no_show_ends_the_did_you_go():
    for body in (Visited(), NoShow()):
        ledger = sent()
        ledger.add(
            Contacted(outcome="booked", appointment_at=at(72), appointment_id=UUID(int=1)), hours=1
        )
        ledger.add(body, hours=73)
        assert not any(k.startswith("visit_check") for k in kinds(ledger))


def test_completion_brings_a_recall_in_six_months():
    ledger = sent()
    ledger.add(Completed(), hours=10)
    assert kinds(ledger)["recall"] == at(10) + timedelta(days=182)


def test_a_firing_timer_looks_again():
    ledger = sent()
    fold = fold_referral(ledger.events)
    [timer] = timers_for(fold, CTX)
    decision = decide(timer, fold, CTX, at(2))
    assert (decision.action, decision.kind) == (Action.ask, TimerKind.contact_check)
    ledger.add(Contacted(outcome="declined", reason="no"), hours=1.5)
    assert decide(timer, fold_referral(ledger.events), CTX, at(2)) is None


def test_only_the_two_hour_reminder_may_break_quiet_hours():
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(72), appointment_id=UUID(int=1)), hours=1
    )
    fold = fold_referral(ledger.events)
    urgent = {
        t.kind: decide(t, fold, CTX, t.at).urgent
        for t in timers_for(fold, CTX)
        if t.kind in (TimerKind.remind_24h, TimerKind.remind_2h)
    }
    assert urgent == {TimerKind.remind_24h: False, TimerKind.remind_2h: True}


def test_behind_and_inactive_timers_come_from_the_context():
    ctx = ReminderContext(
        clinic_tz=MSK, behind_since=at(500), behind_stage=2, oldest_open_question_at=at(10)
    )
    timers = kinds(sent(), ctx)
    assert timers["behind:2"] == at(500)
    assert timers[f"inactive:{at(10).isoformat()}"] == at(10) + timedelta(days=7)


@pytest.mark.parametrize(
    "closing",
    [Closed(reason="moved away"), Contacted(outcome="declined", reason="price")],
    ids=["closed", "declined"],
)
def test_an_ended_referral_reminds_of_nothing_until_it_is_reopened(closing):
    """Not even of a question still open on it (one that verifies a reported fact,
    backend.domain.questions.ASKED_AFTER_CLOSING): it had its push when asked."""
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(72), appointment_id=UUID(int=1)), hours=1
    )
    ctx = ReminderContext(clinic_tz=MSK, oldest_open_question_at=at(1))
    before = kinds(ledger, ctx)
    assert {k.split(":")[0] for k in before} == {
        "remind_24h",
        "remind_2h",
        "visit_check",
        "inactive",
    }
    ledger.add(closing, hours=2)
    fold = fold_referral(ledger.events)
    assert timers_for(fold, ctx) == []
    for key, due in before.items():  # one already scheduled looks again, and does nothing
        timer = Timer(key=key, kind=TimerKind(key.split(":")[0]), at=due)
        assert decide(timer, fold, ctx, due) is None
    ledger.add(Reopened(reason="came back"), hours=3, source=Source.exchange)
    assert kinds(ledger, ctx) == before


def test_timers_are_utc_aware():
    assert all(t.tzinfo is not None for t in kinds(sent()).values())
    assert datetime(2026, 3, 2, 11, tzinfo=UTC) == kinds(sent())["contact_check"]

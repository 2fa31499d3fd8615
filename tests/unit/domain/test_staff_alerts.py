"""The pure rules of alerts to staff and of the coordinator's worklist."""

from datetime import datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.events import (
    AppointmentResponse,
    Contacted,
    ContactRating,
    NoShow,
    PatientAnswer,
    PatientReport,
    Sent,
    Source,
)
from backend.domain.funnel import fold_referral
from backend.domain.roles import Role
from backend.domain.staff_alerts import (
    AlertKind,
    AlertPrefs,
    alert_timers,
    alerts_of_events,
    digest_at,
    in_night,
    may_receive,
    new_disputes,
    prefs_from,
    send_at,
)
from backend.domain.working_time import DEFAULT_HOURS
from backend.domain.worklist import Entry, Reason, first_contact_reason, open_reasons
from tests.unit.ledger_builder import CLINIC, Ledger, at

MSK = ZoneInfo("Europe/Moscow")
SLA = timedelta(hours=2)


def msk(*args) -> datetime:
    return datetime(*args, tzinfo=MSK)


def test_sla_alerts_wait_for_working_hours_others_only_for_the_night():
    saturday_night = msk(2026, 11, 7, 22)
    assert send_at(AlertKind.sla_passed, saturday_night, MSK, DEFAULT_HOURS) == msk(2026, 11, 9, 9)
    assert send_at(AlertKind.nobody_called, saturday_night, MSK, DEFAULT_HOURS) == msk(
        2026, 11, 8, 8
    )
    afternoon = msk(2026, 11, 8, 15)  # Sunday afternoon: no working hours, but not night
    assert send_at(AlertKind.new_dispute, afternoon, MSK, DEFAULT_HOURS) == afternoon
    assert send_at(AlertKind.sla_due, afternoon, MSK, DEFAULT_HOURS) == msk(2026, 11, 9, 9)
    assert in_night(msk(2026, 11, 9, 7, 59), MSK) == msk(2026, 11, 9, 8)
    assert in_night(msk(2026, 11, 9, 8), MSK) is None


def test_a_digest_goes_out_the_next_morning():
    assert digest_at(msk(2026, 11, 9, 8), MSK) == msk(2026, 11, 9, 8, 30)
    assert digest_at(msk(2026, 11, 9, 8, 30), MSK) == msk(2026, 11, 10, 8, 30)


def test_sla_timers_at_75_and_100_per_cent_of_working_time_until_a_call():
    ledger = Ledger()
    sent_at = msk(2026, 11, 9, 19)  # Monday 19:00: one working hour left today
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    events = [msgspec.structs.replace(e, occurred_at=sent_at) for e in ledger.events]
    timers = {
        t.kind: t.at
        for t in alert_timers(fold_referral(events), sla=SLA, tz=MSK, hours=DEFAULT_HOURS)
    }
    assert timers == {
        AlertKind.sla_due: msk(2026, 11, 10, 9, 30),  # 1.5 working hours
        AlertKind.sla_passed: msk(2026, 11, 10, 10),
    }
    # A call that did not get through counts as the clinic acting: no SLA alerts.
    called = ledger.add(Contacted(outcome="unreachable"), hours=0.5)
    events.append(msgspec.structs.replace(called, occurred_at=sent_at + timedelta(minutes=30)))
    assert alert_timers(fold_referral(events), sla=SLA, tz=MSK, hours=DEFAULT_HOURS) == []


def test_a_no_show_wants_a_rebooking_within_three_days():
    ledger = Ledger()
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    ledger.add(Contacted(outcome="booked", appointment_at=at(24)), hours=1)
    ledger.add(NoShow(), hours=25)
    [timer] = alert_timers(fold_referral(ledger.events), sla=SLA, tz=MSK, hours=DEFAULT_HOURS)
    assert timer.kind is AlertKind.no_show_not_rebooked
    assert timer.at == at(24) + timedelta(days=3)
    ledger.add(Contacted(outcome="booked", appointment_at=at(100)), hours=30)
    assert alert_timers(fold_referral(ledger.events), sla=SLA, tz=MSK, hours=DEFAULT_HOURS) == []


def test_events_that_raise_alerts():
    ledger = Ledger()
    sent = ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    said_no = ledger.add(
        PatientAnswer(question_id=uuid4(), milestone="contacted", answer="no"),
        hours=3,
        source=Source.patient_app,
    )
    rated = ledger.add(ContactRating(called=False), hours=4, source=Source.patient_app)
    moved = ledger.add(
        AppointmentResponse(appointment_id=uuid4(), response="reschedule"),
        hours=5,
        source=Source.patient_app,
    )
    confirmed = ledger.add(
        AppointmentResponse(appointment_id=uuid4(), response="confirm"),
        hours=6,
        source=Source.patient_app,
    )
    stopped = ledger.add(PatientReport(about="stopped"), hours=7, source=Source.patient_app)
    kinds = [
        (r.kind, r.key) for r in alerts_of_events([sent, said_no, rated, moved, confirmed, stopped])
    ]
    assert kinds == [
        (AlertKind.new_referral, "sent"),
        (AlertKind.nobody_called, f"nobody:{said_no.id}"),
        (AlertKind.nobody_called, f"nobody:{rated.id}"),
        (AlertKind.patient_declined, f"declined:{moved.id}"),
        (AlertKind.patient_declined, f"declined:{stopped.id}"),
    ]


def test_a_dispute_is_new_once_and_names_no_procedure():
    when = msk(2026, 11, 9, 12)
    before = {"visited": "awaiting_patient", "item:abc": "verified", "contacted": "disputed"}
    after = {"visited": "disputed", "item:abc": "clinic_silent", "contacted": "disputed"}
    raised = new_disputes(before, after, when)
    assert [r.details["milestone"] for r in raised] == ["item", "visited"]


def test_who_may_hear_of_what():
    assert may_receive(Role.clinic_coordinator, AlertKind.sla_due)
    assert may_receive(Role.exchange_operator, AlertKind.new_dispute)
    assert not may_receive(Role.exchange_operator, AlertKind.sla_due)
    for kind in AlertKind:
        assert not may_receive(Role.exchange_analyst, kind)
        assert not may_receive(Role.health_analyst, kind)
    chosen = AlertPrefs(kinds=frozenset({AlertKind.sla_due, AlertKind.new_dispute}))
    assert chosen.wants(Role.clinic_coordinator, AlertKind.new_dispute)
    assert not chosen.wants(Role.clinic_coordinator, AlertKind.new_referral)
    assert not AlertPrefs().wants(Role.clinic_coordinator, AlertKind.new_dispute)  # default
    assert prefs_from({"kinds": ["nonsense"]}) == AlertPrefs()


def test_first_contact_reasons_follow_the_sla():
    sent = msk(2026, 11, 9, 10)
    kw = {"sla": SLA, "tz": MSK, "hours": DEFAULT_HOURS}
    assert (
        first_contact_reason(sent, now=sent + timedelta(minutes=80), **kw)[0] is Reason.new_referral
    )
    assert first_contact_reason(sent, now=sent + timedelta(minutes=90), **kw)[0] is Reason.sla_due
    reason, due = first_contact_reason(sent, now=sent + timedelta(hours=2), **kw)
    assert reason is Reason.sla_passed and due == msk(2026, 11, 9, 12)


def test_the_most_urgent_reason_first_and_what_closes_one():
    now = msk(2026, 11, 9, 12)
    entries = [
        Entry(reason=Reason.behind, since=now - timedelta(days=9), key="behind:2026-10-31"),
        Entry(reason=Reason.nobody_called, since=now - timedelta(hours=1), key="nobody_called"),
        Entry(reason=Reason.no_show, since=now - timedelta(days=1), key="no_show:a1"),
    ]
    live = open_reasons(entries, let_go=set(), snoozed_until=None, now=now)
    assert [e.reason for e in live] == [Reason.nobody_called, Reason.no_show, Reason.behind]
    # Let go of the no-show: that one is closed; a new no-show would be another key.
    live = open_reasons(entries, let_go={"no_show:a1"}, snoozed_until=None, now=now)
    assert [e.reason for e in live] == [Reason.nobody_called, Reason.behind]
    # "Nobody called" cannot be let go.
    live = open_reasons(entries, let_go={"nobody_called"}, snoozed_until=None, now=now)
    assert Reason.nobody_called in [e.reason for e in live]
    # A call-back later takes the referral off the list until then.
    assert (
        open_reasons(entries, let_go=set(), snoozed_until=now + timedelta(hours=1), now=now) == []
    )

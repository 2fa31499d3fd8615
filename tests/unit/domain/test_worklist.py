"""The coordinator's worklist rules (worklist): where an uncontacted referral stands
against the SLA in working time, which reasons still want a call, and in what order."""

from datetime import date, datetime, timedelta

from backend.domain.working_time import WorkingHours
from backend.domain.worklist import (
    CAN_LET_GO,
    CLAIMED,
    PRIORITY,
    WIN_BACK_WITHIN,
    Entry,
    Outcome,
    Reason,
    declined_recently,
    first_contact_reason,
    open_reasons,
)
from tests.unit.domain.stories import MSK

TUESDAY_9 = datetime(2026, 11, 3, 9, tzinfo=MSK)
SATURDAY_1930 = datetime(2026, 11, 7, 19, 30, tzinfo=MSK)
MONDAY_9 = datetime(2026, 11, 9, 9, tzinfo=MSK)
SLA = timedelta(hours=2)
HOURS = WorkingHours()


def stand(sent_at, now, hours=HOURS):
    return first_contact_reason(sent_at, sla=SLA, tz=MSK, hours=hours, now=now)


def entry(reason: Reason, hours: float, key: str = "k") -> Entry:
    return Entry(reason=reason, since=TUESDAY_9 + timedelta(hours=hours), key=key)


# --- first contact -----------------------------------------------------------------------


def test_a_fresh_referral_is_new_until_three_quarters_of_the_sla():
    due = TUESDAY_9 + SLA
    assert stand(TUESDAY_9, TUESDAY_9) == (Reason.new_referral, due)
    warn = TUESDAY_9 + SLA * 0.75
    assert stand(TUESDAY_9, warn - timedelta(seconds=1)) == (Reason.new_referral, due)
    assert stand(TUESDAY_9, warn) == (Reason.sla_due, due)


def test_the_sla_has_passed_from_the_moment_it_is_due():
    due = TUESDAY_9 + SLA
    assert stand(TUESDAY_9, due - timedelta(seconds=1))[0] is Reason.sla_due
    assert stand(TUESDAY_9, due) == (Reason.sla_passed, due)


def test_the_sla_is_counted_in_working_time_over_the_weekend():
    # Saturday 19:30: half an hour left that day; Sunday off; 90 minutes on Monday.
    due = MONDAY_9 + timedelta(minutes=90)
    sunday_noon = datetime(2026, 11, 8, 12, tzinfo=MSK)
    assert stand(SATURDAY_1930, sunday_noon) == (Reason.new_referral, due)
    # Three quarters (90 minutes) of working time: Monday 10:00.
    assert stand(SATURDAY_1930, MONDAY_9 + timedelta(minutes=59))[0] is Reason.new_referral
    assert stand(SATURDAY_1930, MONDAY_9 + timedelta(minutes=60))[0] is Reason.sla_due
    assert stand(SATURDAY_1930, due)[0] is Reason.sla_passed


def test_a_holiday_is_not_working_time():
    monday_off = WorkingHours(holidays=frozenset({date(2026, 11, 9)}))
    _, due = stand(SATURDAY_1930, MONDAY_9, monday_off)
    assert due == datetime(2026, 11, 10, 10, 30, tzinfo=MSK)


def test_a_referral_sent_at_night_is_new_until_the_morning():
    night = datetime(2026, 11, 3, 23, 0, tzinfo=MSK)
    assert stand(night, datetime(2026, 11, 4, 8, 59, tzinfo=MSK))[0] is Reason.new_referral
    assert stand(night, datetime(2026, 11, 4, 10, 30, tzinfo=MSK))[0] is Reason.sla_due


# --- open reasons ------------------------------------------------------------------------


def test_reasons_come_most_urgent_first_then_oldest_first():
    entries = [
        entry(Reason.behind, 0),
        entry(Reason.no_show, 5, "b"),
        entry(Reason.no_show, 1, "a"),
        entry(Reason.sla_passed, 9),
        entry(Reason.callback, 10),
    ]
    got = open_reasons(entries, let_go=set(), snoozed_until=None, now=TUESDAY_9)
    assert [(e.reason, e.key) for e in got] == [
        (Reason.callback, "k"),
        (Reason.sla_passed, "k"),
        (Reason.no_show, "a"),
        (Reason.no_show, "b"),
        (Reason.behind, "k"),
    ]


def test_a_call_back_in_the_future_hides_every_reason_until_its_time():
    entries = [entry(Reason.sla_passed, 0)]
    later = TUESDAY_9 + timedelta(hours=1)
    assert open_reasons(entries, let_go=set(), snoozed_until=later, now=TUESDAY_9) == []
    assert open_reasons(entries, let_go=set(), snoozed_until=later, now=later) == entries
    assert open_reasons(entries, let_go=set(), snoozed_until=TUESDAY_9, now=later) == entries


def test_letting_go_closes_that_occurrence_only():
    missed_first = entry(Reason.no_show, 0, "appointment-1")
    missed_again = entry(Reason.no_show, 30, "appointment-2")
    got = open_reasons(
        [missed_first, missed_again],
        let_go={"appointment-1"},
        snoozed_until=None,
        now=TUESDAY_9,
    )
    assert got == [missed_again]


def test_the_first_call_cannot_be_let_go():
    first = [entry(Reason.sla_passed, 0, "first"), entry(Reason.new_referral, 0, "first")]
    got = open_reasons(first, let_go={"first"}, snoozed_until=None, now=TUESDAY_9)
    assert [e.reason for e in got] == [Reason.sla_passed, Reason.new_referral]
    assert not CAN_LET_GO & {
        Reason.callback,
        Reason.sla_passed,
        Reason.sla_due,
        Reason.nobody_called,
        Reason.new_referral,
    }


def test_every_reason_that_can_be_let_go_is_closed_by_its_key():
    entries = [entry(reason, 0, str(reason)) for reason in CAN_LET_GO]
    let_go = {str(reason) for reason in CAN_LET_GO}
    assert open_reasons(entries, let_go=let_go, snoozed_until=None, now=TUESDAY_9) == []


def test_an_empty_list_stays_empty():
    assert open_reasons([], let_go={"x"}, snoozed_until=None, now=TUESDAY_9) == []


def test_a_call_back_outranks_the_sla_and_a_plan_behind_comes_last():
    assert PRIORITY[Reason.callback] == 0
    assert PRIORITY[Reason.sla_passed] < PRIORITY[Reason.sla_due] < PRIORITY[Reason.new_referral]
    assert max(PRIORITY, key=PRIORITY.get) is Reason.behind


# --- declines and outcomes ---------------------------------------------------------------


def test_a_decline_is_chased_for_ninety_days_and_no_longer():
    declined = TUESDAY_9
    assert declined_recently(declined, declined)
    assert declined_recently(declined, declined + WIN_BACK_WITHIN)
    assert not declined_recently(declined, declined + WIN_BACK_WITHIN + timedelta(seconds=1))
    assert not declined_recently(None, declined)
    assert timedelta(days=90) == WIN_BACK_WITHIN


def test_only_calls_that_reached_a_verdict_are_claims_in_the_ledger():
    assert {Outcome.booked, Outcome.declined, Outcome.unreachable} == CLAIMED
    assert not CLAIMED & {Outcome.callback, Outcome.note, Outcome.let_go}

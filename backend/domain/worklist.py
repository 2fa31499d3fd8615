"""The coordinator's day: why a referral needs a call now, how urgent that is, and what
each one-click outcome of a call means.

A referral is on the list for one or more reasons; the list shows each referral once,
under its most urgent reason. A call-back with a time takes a referral off the list
until that time; "let go" takes a reason off the list for good (the clinic decided not
to chase it), until something new happens.
"""

from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

import msgspec

from backend.domain.staff_alerts import SLA_WARN_SHARE
from backend.domain.working_time import WorkingHours, add_working_time

WIN_BACK_WITHIN = timedelta(days=90)  # a decline older than this is not chased any more
UNREACHABLE_RETRY = timedelta(hours=2)  # an unanswered call comes back after this


class Reason(StrEnum):
    callback = "callback"  # a call-back the coordinator set is due
    sla_passed = "sla_passed"
    sla_due = "sla_due"
    nobody_called = "nobody_called"
    new_referral = "new_referral"
    patient_declined = "patient_declined"  # declined or asked to move the appointment
    no_show = "no_show"  # missed the appointment, not rebooked
    cancelled = "cancelled"  # appointment cancelled, not rebooked
    declined = "declined"  # said no on the phone, with a reason worth a second try
    behind = "behind"  # the plan is behind its schedule


PRIORITY: dict[Reason, int] = {reason: i for i, reason in enumerate(Reason)}
# Reasons that "let go" can close; the first call of a referral cannot be let go.
CAN_LET_GO = frozenset(
    {Reason.patient_declined, Reason.no_show, Reason.cancelled, Reason.declined, Reason.behind}
)


class Outcome(StrEnum):
    booked = "booked"  # reached, and booked (with a time)
    declined = "declined"  # reached, and said no (with a reason)
    unreachable = "unreachable"  # no answer: back on the list later
    callback = "callback"  # reached or not, call again at a time
    note = "note"  # just a note
    let_go = "let_go"  # stop chasing this reason


# The outcomes that are the clinic's claim in the ledger (contacted, with this outcome).
CLAIMED = frozenset({Outcome.booked, Outcome.declined, Outcome.unreachable})


def first_contact_reason(
    sent_at: datetime, *, sla: timedelta, tz: tzinfo, hours: WorkingHours, now: datetime
) -> tuple[Reason, datetime]:
    """Where an uncontacted referral stands against the clinic's first-contact SLA, and
    when the SLA is due (counted in working time)."""
    due = add_working_time(sent_at, sla, tz, hours)
    warn = add_working_time(sent_at, sla * SLA_WARN_SHARE, tz, hours)
    if now >= due:
        return Reason.sla_passed, due
    if now >= warn:
        return Reason.sla_due, due
    return Reason.new_referral, due


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    """One reason a referral is on the list."""

    reason: Reason
    since: datetime  # when the reason arose
    key: str  # names this occurrence (the appointment missed, the decline): "let go" closes it
    due_at: datetime | None = None


def open_reasons(
    entries: list[Entry], *, let_go: set[str], snoozed_until: datetime | None, now: datetime
) -> list[Entry]:
    """A referral's reasons still wanting a call now, most urgent first: an occurrence
    let go is closed (a new one is not); a call-back in the future hides them all."""
    if snoozed_until is not None and snoozed_until > now:
        return []
    live = [e for e in entries if not (e.reason in CAN_LET_GO and e.key in let_go)]
    return sorted(live, key=lambda e: (PRIORITY[e.reason], e.since))


def declined_recently(declined_at: datetime | None, now: datetime) -> bool:
    return declined_at is not None and now - declined_at <= WIN_BACK_WITHIN

"""Alerts to staff: which events need a person, who hears of which by default, when an
alert may go out, and which of them a referral's state wants timed.

An alert is raised once per event (its key says which), fanned out to the people whose
preferences want it, over e-mail, a task in the clinic's CRM or a daily digest. Two
kinds are clocks rather than events — the first-contact SLA at 75 % and at 100 %, and
a no-show not rebooked within 3 days — so, like the patient's reminders, they are
timers derived from the referral as it stands, re-checked when they fire.
"""

from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Literal

import msgspec

from backend.domain.events import (
    AppointmentResponse,
    ContactRating,
    Event,
    PatientAnswer,
    PatientReport,
    Sent,
)
from backend.domain.funnel import CONTACTED, ReferralFold
from backend.domain.roles import Role
from backend.domain.working_time import WorkingHours, add_working_time

SLA_WARN_SHARE = 0.75
REBOOK_WITHIN = timedelta(days=3)
# Alerts other than the SLA's wait out the night in the clinic's time zone.
NIGHT_STARTS, NIGHT_ENDS = time(21, 0), time(8, 0)


class AlertKind(StrEnum):
    new_referral = "new_referral"
    sla_due = "sla_due"  # 75 % of the first-contact SLA gone, no contact yet
    sla_passed = "sla_passed"
    nobody_called = "nobody_called"  # the patient says the clinic never called
    patient_declined = "patient_declined"  # declined or asked to move the appointment
    no_show_not_rebooked = "no_show_not_rebooked"
    new_dispute = "new_dispute"
    behind_schedule = "behind_schedule"
    crm_failed = "crm_failed"  # a delivery from or to the clinic's CRM failed


SLA_KINDS = frozenset({AlertKind.sla_due, AlertKind.sla_passed})
# The exchange hears of these for every clinic; the rest are each clinic's own business.
EXCHANGE_KINDS = frozenset({AlertKind.new_dispute, AlertKind.crm_failed})
CLINIC_KINDS = frozenset(AlertKind)

# What each role gets until the person says otherwise.
DEFAULT_KINDS: dict[Role, frozenset[AlertKind]] = {
    Role.clinic_coordinator: frozenset(
        {
            AlertKind.new_referral,
            AlertKind.sla_due,
            AlertKind.sla_passed,
            AlertKind.nobody_called,
            AlertKind.patient_declined,
            AlertKind.no_show_not_rebooked,
            AlertKind.behind_schedule,
        }
    ),
    Role.clinic_manager: frozenset(
        {
            AlertKind.sla_passed,
            AlertKind.nobody_called,
            AlertKind.new_dispute,
            AlertKind.crm_failed,
        }
    ),
    Role.exchange_operator: frozenset({AlertKind.new_dispute, AlertKind.crm_failed}),
    Role.exchange_analyst: frozenset(),
    Role.health_analyst: frozenset(),
}


def may_receive(role: Role, kind: AlertKind) -> bool:
    """Whether a role may hear of an alert at all: analysts see no single patient's case,
    so no alert is about anything they may look at."""
    if role in (Role.clinic_coordinator, Role.clinic_manager):
        return kind in CLINIC_KINDS
    if role is Role.exchange_operator:
        return kind in EXCHANGE_KINDS
    return False


class AlertPrefs(msgspec.Struct, frozen=True, kw_only=True):
    """One person's choices. `kinds` None: the role's defaults."""

    kinds: frozenset[AlertKind] | None = None
    email: bool = True
    crm_task: bool = True  # for CRM clinics: also a task in the CRM
    digest: bool = False  # one e-mail a morning instead of each alert at once
    crm_user_id: str | None = None  # who the CRM task is for (the CRM's user id)
    lang: Literal["ru", "en"] = "ru"

    def wants(self, role: Role, kind: AlertKind) -> bool:
        chosen = DEFAULT_KINDS[role] if self.kinds is None else self.kinds
        return kind in chosen and may_receive(role, kind)


def prefs_from(raw: dict | None) -> AlertPrefs:
    """Stored preferences, forgiving of anything an older release wrote."""
    try:
        return msgspec.convert(raw or {}, AlertPrefs)
    except msgspec.ValidationError:
        return AlertPrefs()


# --- when ------------------------------------------------------------------------------


def in_night(at: datetime, tz: tzinfo) -> datetime | None:
    """If `at` is in the clinic's night, when the night ends; else None."""
    local = at.astimezone(tz)
    t = local.time()
    if NIGHT_ENDS <= t < NIGHT_STARTS:
        return None
    day = local if t < NIGHT_ENDS else local + timedelta(days=1)
    ends = day.replace(hour=NIGHT_ENDS.hour, minute=NIGHT_ENDS.minute, second=0, microsecond=0)
    return ends.astimezone(at.tzinfo)


def send_at(kind: AlertKind, at: datetime, tz: tzinfo, hours: WorkingHours) -> datetime:
    """When an alert raised at `at` may go out: SLA alerts in the clinic's working
    hours (a call can be made then), every other alert once the night is over."""
    if kind in SLA_KINDS:
        return add_working_time(at, timedelta(0), tz, hours)
    return in_night(at, tz) or at


def digest_at(after: datetime, tz: tzinfo) -> datetime:
    """The next morning digest (08:30 in the person's clinic's zone) after `after`."""
    local = after.astimezone(tz)
    slot = local.replace(hour=8, minute=30, second=0, microsecond=0)
    if slot <= local:
        slot += timedelta(days=1)
    return slot.astimezone(after.tzinfo)


# --- the timed alerts ------------------------------------------------------------------


class AlertTimer(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # unique per referral: the same key is the same timer
    kind: AlertKind
    at: datetime


def _contacted(fold: ReferralFold) -> bool:
    return bool(fold.clinic_claims.get(CONTACTED)) or fold.contact_attempts > 0


def alert_timers(
    fold: ReferralFold, *, sla: timedelta, tz: tzinfo, hours: WorkingHours
) -> list[AlertTimer]:
    """The timed alerts this referral wants now; anything else pending is stale. (A call
    that did not get through still counts as the clinic acting within its SLA.)"""
    timers: list[AlertTimer] = []
    if fold.is_open and fold.sent_at is not None and not _contacted(fold):
        warn = add_working_time(fold.sent_at, sla * SLA_WARN_SHARE, tz, hours)
        due = add_working_time(fold.sent_at, sla, tz, hours)
        timers.append(AlertTimer(key="sla_due", kind=AlertKind.sla_due, at=warn))
        timers.append(AlertTimer(key="sla_passed", kind=AlertKind.sla_passed, at=due))
    missed = [a for a in fold.appointments if a.status == "noshow"]
    if fold.is_open and missed and fold.no_show:
        last = missed[-1]
        timers.append(
            AlertTimer(
                key=f"no_show:{last.id}",
                kind=AlertKind.no_show_not_rebooked,
                at=last.starts_at + REBOOK_WITHIN,
            )
        )
    return timers


def still_wanted(
    key: str, fold: ReferralFold, *, sla: timedelta, tz: tzinfo, hours: WorkingHours
) -> bool:
    return key in {t.key for t in alert_timers(fold, sla=sla, tz=tz, hours=hours)}


# --- the alerts that events raise ------------------------------------------------------


class Raised(msgspec.Struct, frozen=True, kw_only=True):
    kind: AlertKind
    key: str  # unique per referral
    happened_at: datetime
    details: dict[str, str] = {}


def alerts_of_events(new_events: list[Event]) -> list[Raised]:
    """Alerts that newly recorded events raise by themselves."""
    raised: list[Raised] = []
    for e in new_events:
        body, at = e.body, e.occurred_at
        said_no = isinstance(body, PatientAnswer) and body.milestone == CONTACTED
        said_no = said_no and body.answer == "no"  # type: ignore[union-attr]
        if isinstance(body, Sent):
            raised.append(Raised(kind=AlertKind.new_referral, key="sent", happened_at=at))
        elif said_no or (isinstance(body, ContactRating) and not body.called):
            key = f"nobody:{e.id}"
            raised.append(Raised(kind=AlertKind.nobody_called, key=key, happened_at=at))
        elif isinstance(body, AppointmentResponse) and body.response in ("decline", "reschedule"):
            raised.append(
                Raised(
                    kind=AlertKind.patient_declined,
                    key=f"declined:{e.id}",
                    happened_at=e.occurred_at,
                    details={"response": body.response},
                )
            )
        elif isinstance(body, PatientReport) and body.about == "stopped":
            raised.append(
                Raised(
                    kind=AlertKind.patient_declined,
                    key=f"declined:{e.id}",
                    happened_at=e.occurred_at,
                    details={"response": "stopped"},
                )
            )
    return raised


DISPUTE_STATES = frozenset({"disputed", "clinic_silent"})


def new_disputes(before: dict[str, str], after: dict[str, str], at: datetime) -> list[Raised]:
    """Milestones that went into dispute (or clinic-silence) with this change."""
    return [
        Raised(
            kind=AlertKind.new_dispute,
            key=f"dispute:{milestone}:{at.isoformat()}",
            happened_at=at,
            details={"milestone": "item" if milestone.startswith("item:") else milestone},
        )
        for milestone, state in sorted(after.items())
        if state in DISPUTE_STATES and before.get(milestone) not in DISPUTE_STATES
    ]

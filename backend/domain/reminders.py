"""Who is asked what, and when: the timers a referral's state calls for, and what to do
when one fires.

Timers are derived from the referral as it stands after each event, never from a
periodic sweep: when an appointment moves, the timers of the old time are simply no
longer wanted (the scheduler cancels them) and the new time gets its own. When a timer
fires, `decide()` looks at the referral again, so a timer that outlived its reason does
nothing.
"""

from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from uuid import UUID

import msgspec

from backend.domain.funnel import CONTACTED, VISITED, ReferralFold, Step
from backend.domain.working_time import DEFAULT_HOURS, WorkingHours, add_working_time

REMIND_BEFORE = {"remind_24h": timedelta(hours=24), "remind_2h": timedelta(hours=2)}
VISIT_CHECK_AFTER = timedelta(hours=3)
INACTIVE_AFTER = timedelta(days=7)
RECALL_AFTER = timedelta(days=182)  # the six-month check-up


class TimerKind(StrEnum):
    contact_check = "contact_check"  # the clinic's first-contact SLA passed in silence
    remind_24h = "remind_24h"
    remind_2h = "remind_2h"
    visit_check = "visit_check"  # appointment + 3 h, and no visit on record
    behind = "behind"  # the plan fell behind its expected schedule
    inactive = "inactive"  # questions unanswered for a week
    recall = "recall"  # six months after completion


class Timer(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # unique per referral; the same key is the same timer
    kind: TimerKind
    at: datetime


class ReminderContext(msgspec.Struct, frozen=True, kw_only=True):
    clinic_tz: tzinfo
    first_contact_sla: timedelta = timedelta(hours=2)  # of working time
    hours: WorkingHours = DEFAULT_HOURS
    behind_since: datetime | None = None  # when the current stage became late
    behind_stage: int | None = None
    oldest_open_question_at: datetime | None = None


def _patient_spoke(fold: ReferralFold, milestone: str) -> bool:
    return any(s.answer != "unsure" for s in fold.patient_says.get(milestone, ()))


def _visited_since(fold: ReferralFold, since: datetime) -> bool:
    return any(c.occurred_at >= since for c in fold.clinic_claims.get(VISITED, ()))


def timers_for(fold: ReferralFold, ctx: ReminderContext) -> list[Timer]:
    """Every timer this referral wants now; anything else pending is stale."""
    timers: list[Timer] = []
    if (
        fold.is_open
        and fold.sent_at is not None
        and not fold.clinic_claims.get(CONTACTED)
        and not _patient_spoke(fold, CONTACTED)
    ):
        due = add_working_time(fold.sent_at, ctx.first_contact_sla, ctx.clinic_tz, ctx.hours)
        timers.append(Timer(key="contact_check", kind=TimerKind.contact_check, at=due))

    appt = fold.current_appointment
    if fold.is_open and appt is not None and appt.status == "booked":
        stamp = appt.starts_at.isoformat()
        for kind, before in REMIND_BEFORE.items():
            at = appt.starts_at - before
            if at > appt.booked_at:  # a reminder for a booking made in the meantime is moot
                timers.append(Timer(key=f"{kind}:{appt.id}:{stamp}", kind=TimerKind(kind), at=at))
        if not _visited_since(fold, appt.booked_at):
            timers.append(
                Timer(
                    key=f"visit_check:{appt.id}:{stamp}",
                    kind=TimerKind.visit_check,
                    at=appt.starts_at + VISIT_CHECK_AFTER,
                )
            )

    if fold.is_open and ctx.behind_since is not None and ctx.behind_stage is not None:
        timers.append(
            Timer(key=f"behind:{ctx.behind_stage}", kind=TimerKind.behind, at=ctx.behind_since)
        )

    # A referral that ended is not a reason to nag: a question still open on it (one that
    # verifies what the clinic reported, backend.domain.questions) had its one push.
    if ctx.oldest_open_question_at is not None and not fold.is_closed:
        at = ctx.oldest_open_question_at + INACTIVE_AFTER
        timers.append(
            Timer(
                key=f"inactive:{ctx.oldest_open_question_at.isoformat()}",
                kind=TimerKind.inactive,
                at=at,
            )
        )

    if fold.step is Step.completed and Step.completed in fold.step_at:
        timers.append(
            Timer(
                key="recall", kind=TimerKind.recall, at=fold.step_at[Step.completed] + RECALL_AFTER
            )
        )
    return timers


class Action(StrEnum):
    ask = "ask"  # put a question in the patient's app (and tell them)
    notify = "notify"  # just tell them


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    action: Action
    kind: TimerKind
    urgent: bool = False  # may break quiet hours
    appointment_id: UUID | None = None
    about_at: datetime | None = None


def decide(
    timer: Timer, fold: ReferralFold, ctx: ReminderContext, now: datetime
) -> Decision | None:
    """What a firing timer should do now, if it is still wanted at all."""
    wanted = {t.key for t in timers_for(fold, ctx)}
    if timer.key not in wanted:
        return None
    kind = timer.kind
    appt = fold.current_appointment
    if kind is TimerKind.contact_check:
        return Decision(action=Action.ask, kind=kind, about_at=fold.sent_at)
    if kind in (TimerKind.remind_24h, TimerKind.remind_2h):
        assert appt is not None
        if appt.starts_at <= now:
            return None
        return Decision(
            action=Action.notify,
            kind=kind,
            urgent=kind is TimerKind.remind_2h,
            appointment_id=appt.id,
            about_at=appt.starts_at,
        )
    if kind is TimerKind.visit_check:
        assert appt is not None
        return Decision(
            action=Action.ask, kind=kind, appointment_id=appt.id, about_at=appt.starts_at
        )
    return Decision(action=Action.notify, kind=kind)

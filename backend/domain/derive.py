"""Everything that follows from a referral's ledger at a moment, under its clinic's rules,
computed in one call: the verification verdicts, its progress, the questions to ask and
withdraw, its funnel facts and conversion position, and the timers (reminders and staff
alerts) its state wants.

The recording service loads a referral once, calls `derive` once, and writes the
difference; every reader that shows progress or verdicts uses the same functions here.
"""

from collections.abc import Sequence
from datetime import datetime, tzinfo
from uuid import UUID

import msgspec

from backend.domain.clinic_settings import EffectiveSettings, policy_of
from backend.domain.conversion import Position
from backend.domain.conversion import position as conversion_position
from backend.domain.funnel import ReferralFold, treatment_start
from backend.domain.funnel_facts import ReferralFacts, referral_facts
from backend.domain.norms import Norms
from backend.domain.progress import BEHIND_GRACE, Progress, changes_at, plan_progress
from backend.domain.questions import AskedQuestion, QuestionPlan, plan_questions
from backend.domain.reminders import ReminderContext, Timer, timers_for
from backend.domain.staff_alerts import AlertTimer, alert_timers
from backend.domain.verification import Verification, VerificationPolicy, next_due, verify


class ClinicRules(msgspec.Struct, frozen=True, kw_only=True):
    """A clinic's rules as one value: its zone, its settings in force (working hours,
    holidays, first-contact SLA, answer windows) and its duration norms."""

    clinic_id: UUID
    tz: tzinfo
    settings: EffectiveSettings
    norms: Norms

    @property
    def policy(self) -> VerificationPolicy:
        return policy_of(self.settings, self.tz)


def progress_of(fold: ReferralFold, norms: Norms, now: datetime) -> Progress:
    """The plan's progress as the domain defines it (one definition for every reader)."""
    appt = fold.current_appointment
    return plan_progress(
        fold.plan.chosen_lines() if fold.plan else (),
        fold.done_items,
        started_at=treatment_start(fold),
        planned_start=appt.starts_at if appt else None,
        norms=norms,
        now=now,
        stopped=not fold.is_open,
    )


def stable_until(
    verdicts: dict[str, Verification],
    progress: Progress,
    question_expiries: Sequence[datetime | None],
    now: datetime,
) -> datetime | None:
    """Until when what a referral shows (its verdicts, progress and open questions, as
    of `now`) reads the same if nothing happens: the first moment after `now` a verdict
    falls due, a question expires or the progress moves by the clock. None: never."""
    moments = [next_due(verdicts), changes_at(progress, now), *question_expiries]
    return min((m for m in moments if m is not None and m > now), default=None)


def oldest_open(asked: Sequence[AskedQuestion], now: datetime) -> datetime | None:
    """When the oldest question still open and unexpired was asked."""
    return min(
        (
            q.asked_at
            for q in asked
            if q.open and q.asked_at and (q.expires_at is None or q.expires_at > now)
        ),
        default=None,
    )


def reminder_context(
    fold: ReferralFold,
    oldest_open_question_at: datetime | None,
    rules: ClinicRules,
    now: datetime,
    progress: Progress | None = None,
) -> ReminderContext:
    """What the reminder rules need besides the fold: the clinic's clock, when the
    current stage fell behind, the oldest open question (`oldest_open`)."""
    behind_since = behind_stage = None
    if fold.plan is not None and fold.is_open:
        progress = progress or progress_of(fold, rules.norms, now)
        current = next((s for s in progress.stages if s.stage == progress.current_stage), None)
        if progress.schedule.value != "not_started" and current and current.expected_end:
            behind_since, behind_stage = current.expected_end + BEHIND_GRACE, current.stage
    return ReminderContext(
        clinic_tz=rules.tz,
        first_contact_sla=rules.settings.first_contact_sla,
        hours=rules.settings.hours,
        behind_since=behind_since,
        behind_stage=behind_stage,
        oldest_open_question_at=oldest_open_question_at,
    )


class Derived(msgspec.Struct, frozen=True, kw_only=True):
    """What the store keeps of a referral beside its ledger, as of one moment."""

    verdicts: dict[str, Verification]
    progress: Progress
    questions: QuestionPlan
    facts: ReferralFacts | None
    conversion: Position | None
    timers: list[Timer]  # reminders the referral's state wants
    alert_timers: list[AlertTimer]  # staff alerts it wants


def derive(
    fold: ReferralFold,
    asked: Sequence[AskedQuestion],
    rules: ClinicRules,
    now: datetime,
) -> Derived:
    """Everything derived from a referral's ledger (its `fold`) at `now`;
    `asked`: its questions in the store. The timers see the questions as they will be
    once the questions plan is carried out."""
    policy = rules.policy
    verdicts = verify(fold, now, policy)
    plan = plan_questions(fold, verdicts, list(asked), now=now, policy=policy)
    progress = progress_of(fold, rules.norms, now)
    withdrawn = set(plan.withdraw)
    still_open = [q for q in asked if q.id not in withdrawn]
    oldest = min(
        [t for t in (oldest_open(still_open, now),) if t is not None]
        + [now for spec in plan.ask if spec.expires_at > now],
        default=None,
    )
    return Derived(
        verdicts=verdicts,
        progress=progress,
        questions=plan,
        facts=referral_facts(fold, rules.tz, now, policy, verdicts=verdicts, norms=rules.norms),
        conversion=conversion_position(fold, rules.tz),
        timers=timers_for(fold, reminder_context(fold, oldest, rules, now, progress)),
        alert_timers=alert_timers(
            fold,
            sla=rules.settings.first_contact_sla,
            tz=rules.tz,
            hours=rules.settings.hours,
        ),
    )

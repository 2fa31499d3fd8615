"""Everything derived from one fold at a moment (derive.derive), under a clinic's rules:
its settings and norms reach every part, and the helpers say until when it all holds."""

from datetime import datetime, timedelta
from uuid import UUID

from backend.domain.clinic_settings import SettingValues, effective_settings
from backend.domain.derive import (
    ClinicRules,
    derive,
    oldest_open,
    progress_of,
    reminder_context,
    stable_until,
)
from backend.domain.events import Closed, ItemDone, Visited
from backend.domain.funnel import fold_referral
from backend.domain.funnel_facts import referral_facts
from backend.domain.norms import DurationNorm, Specialization, effective_norms
from backend.domain.progress import BEHIND_GRACE, Schedule
from backend.domain.questions import AskedQuestion, QuestionKind
from backend.domain.verification import verify
from tests.unit.domain.stories import MSK, A, Story, booked
from tests.unit.ledger_builder import CLINIC, Ledger

TUESDAY_9 = datetime(2026, 11, 3, 9, tzinfo=MSK)


def rules(*, sla_minutes: int | None = None, therapy_days: int | None = None) -> ClinicRules:
    clinic = SettingValues(first_contact_sla_minutes=sla_minutes)
    overrides = (
        [
            DurationNorm(
                specialization=Specialization.therapy,
                chair_minutes=60,
                course_days=therapy_days,
                source="the clinic",
            )
        ]
        if therapy_days
        else None
    )
    return ClinicRules(
        clinic_id=CLINIC,
        tz=MSK,
        settings=effective_settings(SettingValues(), clinic),
        norms=effective_norms(overrides),
    )


def question(n: int, *, asked_at, expires_at=None, open=True) -> AskedQuestion:
    return AskedQuestion(
        id=UUID(int=n),
        kind=QuestionKind.confirm_contact,
        milestone="contacted",
        subject=f"s{n}",
        open=open,
        asked_at=asked_at,
        expires_at=expires_at,
    )


def test_a_clinics_policy_carries_its_sla_and_zone():
    policy = rules(sla_minutes=60).policy
    assert policy.contact_sla == timedelta(minutes=60)
    assert policy.tz is MSK
    assert rules().policy.contact_sla == timedelta(minutes=120)


def test_the_contact_deadline_follows_the_clinics_sla_in_its_working_hours():
    s = Story(TUESDAY_9)
    now = TUESDAY_9 + timedelta(minutes=5)
    quick = derive(s.fold, [], rules(sla_minutes=60), now)
    default = derive(s.fold, [], rules(), now)
    assert quick.verdicts["contacted"].due_at == TUESDAY_9 + timedelta(hours=1)
    assert default.verdicts["contacted"].due_at == TUESDAY_9 + timedelta(hours=2)
    # The staff alerts and the reminders follow the same SLA.
    assert max(t.at for t in quick.alert_timers) == TUESDAY_9 + timedelta(hours=1)
    assert max(t.at for t in default.alert_timers) == TUESDAY_9 + timedelta(hours=2)


def test_derived_verdicts_and_facts_are_the_domains_own_under_the_same_rules():
    s = Story(TUESDAY_9)
    s.later(booked(TUESDAY_9 + timedelta(days=2)), 1)
    s.later(Visited(), 49)
    s.later(ItemDone(item_id=A), 50)
    clinic = rules(sla_minutes=30, therapy_days=20)
    now = TUESDAY_9 + timedelta(days=3)
    derived = derive(s.fold, [], clinic, now)
    assert derived.verdicts == verify(s.fold, now, clinic.policy)
    assert derived.facts == referral_facts(s.fold, MSK, now, clinic.policy, norms=clinic.norms)
    assert derived.conversion is not None and derived.conversion.sent_day == TUESDAY_9.date()


def test_the_clinics_norms_move_what_its_plans_expect():
    s = Story(TUESDAY_9)
    s.later(Visited(), 24)
    now = TUESDAY_9 + timedelta(days=2)

    def due_days(clinic):
        facts = derive(s.fold, [], clinic, now).facts
        return {f.day for f in facts.facts if f.kind == "expected"}

    week, month = due_days(rules()), due_days(rules(therapy_days=30))
    assert len(week) == len(month) == 1
    assert (min(month) - min(week)).days == 30 - 7


def test_a_referral_never_sent_derives_no_facts_and_no_conversion():
    ledger = Ledger()
    derived = derive(fold_referral(ledger.events), [], rules(), TUESDAY_9)
    assert derived.facts is None
    assert derived.conversion is None


def test_a_closed_referrals_progress_is_stopped():
    s = Story(TUESDAY_9)
    s.later(Visited(), 24)
    s.later(ItemDone(item_id=A), 24)
    s.later(Closed(reason="moved away"), 48)
    progress = progress_of(s.fold, effective_norms(), TUESDAY_9 + timedelta(days=3))
    assert progress.schedule is Schedule.stopped
    assert (progress.money_done, progress.money_total) == (10_000_00, 30_000_00)


def test_stable_until_is_the_first_moment_after_now_anything_moves():
    s = Story(TUESDAY_9)
    now = TUESDAY_9 + timedelta(minutes=5)
    fold = s.fold
    verdicts = verify(fold, now, rules().policy)  # contacted falls due at 11:00
    progress = progress_of(fold, effective_norms(), now)
    sooner = TUESDAY_9 + timedelta(minutes=30)
    assert stable_until(verdicts, progress, [None, sooner], now) == sooner
    assert stable_until(verdicts, progress, [], now) == TUESDAY_9 + timedelta(hours=2)
    # Moments already past (or exactly now) do not hold anything up.
    assert stable_until(verdicts, progress, [now, now - timedelta(hours=1)], now) == (
        TUESDAY_9 + timedelta(hours=2)
    )


def test_a_settled_referral_is_stable_for_ever():
    s = Story(TUESDAY_9)
    s.later(Closed(reason="refused"), 1)
    now = TUESDAY_9 + timedelta(days=30)
    fold = s.fold
    verdicts = verify(fold, now, rules().policy)
    progress = progress_of(fold, effective_norms(), now)
    assert stable_until(verdicts, progress, [None], now) is None


def test_the_oldest_open_question_leaves_out_closed_expired_and_unasked_ones():
    now = TUESDAY_9
    asked = [
        question(1, asked_at=now - timedelta(days=5), open=False),
        question(2, asked_at=now - timedelta(days=4), expires_at=now),  # expires now
        question(3, asked_at=None),
        question(4, asked_at=now - timedelta(days=2), expires_at=now + timedelta(hours=1)),
        question(5, asked_at=now - timedelta(days=1)),
    ]
    assert oldest_open(asked, now) == now - timedelta(days=2)
    assert oldest_open(asked[:3], now) is None
    assert oldest_open([], now) is None


def test_a_begun_plan_is_behind_a_week_after_its_stage_should_have_ended():
    s = Story(TUESDAY_9)
    s.later(Visited(), 24)
    now = TUESDAY_9 + timedelta(days=2)
    clinic = rules()
    progress = progress_of(s.fold, clinic.norms, now)
    [stage] = progress.stages
    context = reminder_context(s.fold, None, clinic, now, progress)
    assert context.behind_since == stage.expected_end + BEHIND_GRACE
    assert context.behind_stage == 1
    assert context.clinic_tz is MSK
    assert context.first_contact_sla == clinic.settings.first_contact_sla


def test_a_plan_not_begun_or_stopped_is_never_behind():
    waiting = Story(TUESDAY_9)
    now = TUESDAY_9 + timedelta(days=2)
    context = reminder_context(waiting.fold, now, rules(), now)
    assert (context.behind_since, context.behind_stage) == (None, None)
    assert context.oldest_open_question_at == now
    stopped = Story(TUESDAY_9)
    stopped.later(Visited(), 24)
    stopped.later(Closed(reason="refused"), 25)
    context = reminder_context(stopped.fold, None, rules(), now)
    assert context.behind_since is None

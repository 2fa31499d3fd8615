"""A patient's reminder timers firing (outbox topic `timer`, scheduled by the recording
with the rest of a referral's derived rows): look at the referral again, as of now, and
ask a question or notify, or do nothing."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.domain.derive import oldest_open, reminder_context
from backend.domain.questions import QuestionKind, check_question
from backend.domain.reminders import Action, Timer, TimerKind, decide
from backend.services import changes
from backend.services.notifications import notify
from backend.services.recording import REMINDER_TIMER, ask, load, refresh, rules_of
from backend.store import questions, referrals
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome

TOPIC = REMINDER_TIMER


async def fire_timer(payload: dict[str, Any], now: datetime) -> Outcome:
    """A timer is due: look at the referral again and do what is still called for."""
    referral_id = UUID(payload["referral_id"])
    timer = Timer(
        key=payload["key"],
        kind=TimerKind(payload["kind"]),
        at=datetime.fromisoformat(payload["at"]),
    )
    async with write_transaction():
        referral = await referrals.lock(referral_id)
        if referral is None:
            return Outcome(status="skipped", detail="no such referral")
        stored = await load(referral_id)
        # Time has passed since the last event: bring the derived rows (a plan now behind
        # schedule, a deadline gone) up to this moment before deciding.
        rules = await rules_of(referral)
        fold = await refresh(referral, stored, now, rules=rules, screen_changed=False)
        asked = await questions.asked_for(referral_id)
        ctx = reminder_context(fold, oldest_open(asked, now), rules, now)
        decision = decide(timer, fold, ctx, now)
        if decision is None:
            return Outcome(status="skipped", detail="no longer wanted")
        question_id = None
        if decision.action is Action.ask:
            spec = check_question(fold, QuestionKind(timer.kind.value), now=now)
            if spec is None or (spec.milestone, spec.subject) in {
                (q.milestone, q.subject) for q in asked
            }:
                return Outcome(status="skipped", detail="already asked")
            question_id = await ask(referral, spec, now)
            await changes.note(
                referral.patient, [(changes.QUESTION, question_id, referral_id)], now
            )
        kind = "question" if decision.action is Action.ask else decision.kind.value
        dedupe = f"notify:{referral_id}:{timer.key}"
        if decision.kind is TimerKind.inactive:  # at most one nudge a week per patient
            year, week, _ = now.isocalendar()
            dedupe = f"notify:inactive:{referral.patient}:{year}-{week}"
        await notify(
            patient_id=referral.patient,
            referral_id=referral_id,
            kind=kind,
            now=now,
            dedupe_key=dedupe,
            urgent=decision.urgent,
            question_id=question_id,
            appointment_id=decision.appointment_id,
        )
    return Outcome(status="done", detail=kind)

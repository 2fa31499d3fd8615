"""Timers and notifications: the scheduler that keeps a referral's timers in step with
its state, what a firing timer does, and a notification's way to the patient's devices.

Three stages, each an outbox topic, each row done once:
- `timer`: wanted by the referral's state (backend.domain.reminders), due at its time;
  firing looks again and asks a question or notifies, or does nothing;
- `notify`: one notification for one patient, held until quiet hours end unless
  urgent, checked against the patient's preferences, then fanned out per device;
- `push`: one message to one device, sent by the FCM sender in batches.

A patient with no active device gets the notification as an SMS instead, where its
kind goes by SMS (backend.services.sms, topic `sms`).
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.domain.clinic_settings import EffectiveSettings, SettingValues, effective_settings
from backend.domain.funnel import ReferralFold, fold_referral
from backend.domain.progress import BEHIND_GRACE, plan_progress
from backend.domain.questions import AskedQuestion, QuestionKind, check_question
from backend.domain.reminders import Action, ReminderContext, Timer, TimerKind, decide, timers_for
from backend.domain.working_time import quiet_until
from backend.runtime.ids import new_id
from backend.services import sms, texts
from backend.services.clinic_settings import effective_for
from backend.services.profile import prefs_of, quiet_of
from backend.store import devices, ledger, norms, outbox, parties, questions, referrals
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome

TIMER, NOTIFY, PUSH = "timer", "notify", "push"

# How long a push is worth delivering to a phone that is off, per kind.
TTL = {
    "question": timedelta(days=3),
    "remind_24h": timedelta(hours=12),
    "remind_2h": timedelta(hours=2),
    "behind": timedelta(days=7),
    "inactive": timedelta(days=3),
    "recall": timedelta(days=7),
}
# Which switch in the patient's preferences silences which kind.
PREFERENCE = {
    "question": "questions",
    "inactive": "questions",
    "remind_24h": "reminders",
    "remind_2h": "reminders",
    "behind": "reminders",
    "recall": "reminders",
}


def reminder_context(
    referral: dict[str, Any],
    fold: ReferralFold,
    asked: list[AskedQuestion],
    norm_table,
    now: datetime,
    settings: EffectiveSettings | None = None,
) -> ReminderContext:
    """`settings`: the clinic's (its SLA, working hours and holidays: the same clock as
    its verification deadlines); the defaults if not given."""
    tz = ZoneInfo(referral.get("clinic.timezone") or "Europe/Moscow")
    settings = settings or effective_settings(SettingValues(), SettingValues())
    behind_since = behind_stage = None
    if fold.plan is not None and fold.is_open:
        appt = fold.current_appointment
        progress = plan_progress(
            fold.plan.chosen_lines(),
            fold.done_items,
            started_at=fold.step_at.get("visited") or min(fold.done_items.values(), default=None),
            planned_start=appt.starts_at if appt else None,
            norms=norm_table,
            now=now,
        )
        current = next((s for s in progress.stages if s.stage == progress.current_stage), None)
        if progress.schedule.value != "not_started" and current and current.expected_end:
            behind_since, behind_stage = current.expected_end + BEHIND_GRACE, current.stage
    open_questions = [
        q.asked_at
        for q in asked
        if q.open and q.asked_at and (q.expires_at is None or q.expires_at > now)
    ]
    return ReminderContext(
        clinic_tz=tz,
        first_contact_sla=settings.first_contact_sla,
        hours=settings.hours,
        behind_since=behind_since,
        behind_stage=behind_stage,
        oldest_open_question_at=min(open_questions, default=None),
    )


async def _context(
    referral: dict[str, Any], fold: ReferralFold, asked: list[AskedQuestion], now: datetime
) -> ReminderContext:
    """`reminder_context` with the clinic's norms and settings read."""
    return reminder_context(
        referral,
        fold,
        asked,
        await norms.norms_for(referral["clinic"]),
        now,
        await effective_for(referral["clinic"], referral["clinic.first_contact_sla_minutes"]),
    )


def _timer_key(referral_id: UUID, timer_key: str) -> str:
    return f"timer:{referral_id}:{timer_key}"


async def schedule_timers(
    referral: dict[str, Any], fold: ReferralFold, asked: list[AskedQuestion], now: datetime
) -> None:
    """Make the pending timers of a referral exactly those its state wants (inside the
    transaction that changed the state)."""
    referral_id = referral["id"]
    ctx = await _context(referral, fold, asked, now)
    wanted = {_timer_key(referral_id, t.key): t for t in timers_for(fold, ctx)}
    pending = await outbox.pending_keys(topic=TIMER, referral_id=referral_id)
    await outbox.cancel(sorted(pending - set(wanted)), now)
    for key, timer in wanted.items():
        if key in pending:
            continue
        await outbox.schedule(
            topic=TIMER,
            payload={
                "referral_id": str(referral_id),
                "key": timer.key,
                "kind": timer.kind.value,
                "at": timer.at.isoformat(),
            },
            dedupe_key=key,
            available_at=max(timer.at, now),
            referral_id=referral_id,
            now=now,
        )


async def notify(
    *,
    patient_id: UUID,
    referral_id: UUID,
    kind: str,
    now: datetime,
    dedupe_key: str,
    urgent: bool = False,
    question_id: UUID | None = None,
    appointment_id: UUID | None = None,
) -> None:
    """Queue a notification, held until the patient's quiet hours end unless urgent."""
    patient = await parties.patient(patient_id)
    if patient is None:
        return
    at = now
    if not urgent:
        quiet = quiet_of(patient)
        at = quiet_until(now, ZoneInfo(patient.timezone), quiet.start, quiet.end) or now
    await outbox.enqueue(
        topic=NOTIFY,
        payload={
            "patient_id": str(patient_id),
            "referral_id": str(referral_id),
            "kind": kind,
            "urgent": urgent,
            "question_id": str(question_id) if question_id else None,
            "appointment_id": str(appointment_id) if appointment_id else None,
        },
        dedupe_key=dedupe_key,
        available_at=at,
        referral_id=referral_id,
        now=now,
    )


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
        events = await ledger.events_of(referral_id)
        fold = fold_referral(events)
        # Time has passed since the last event: bring the derived rows (a plan now behind
        # schedule, a deadline gone) up to this moment before deciding.
        from backend.services.recording import refresh  # recording imports this module

        await refresh(referral, events, now, fold=fold)
        asked = await questions.asked_for(referral_id)
        ctx = await _context(referral, fold, asked, now)
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
            question_id = new_id()
            await questions.insert(
                question_id=question_id,
                referral_id=referral_id,
                patient_id=referral["patient"],
                spec=spec,
                now=now,
            )
        kind = "question" if decision.action is Action.ask else decision.kind.value
        dedupe = f"notify:{referral_id}:{timer.key}"
        if decision.kind is TimerKind.inactive:  # at most one nudge a week per patient
            year, week, _ = now.isocalendar()
            dedupe = f"notify:inactive:{referral['patient']}:{year}-{week}"
        await notify(
            patient_id=referral["patient"],
            referral_id=referral_id,
            kind=kind,
            now=now,
            dedupe_key=dedupe,
            urgent=decision.urgent,
            question_id=question_id,
            appointment_id=decision.appointment_id,
        )
    return Outcome(status="done", detail=kind)


async def fan_out(
    notify_id: int,
    payload: dict[str, Any],
    now: datetime,
    *,
    sms_limit: int = sms.DEFAULT_WEEKLY_LIMIT,
) -> Outcome:
    """One notification → one push per active device, in the patient's language; no
    active device: an SMS, within the patient's weekly allowance of `sms_limit`."""
    patient = await parties.patient(UUID(payload["patient_id"]))
    if patient is None or patient.erased_at is not None:
        return Outcome(status="skipped", detail="no patient")
    kind = payload["kind"]
    if not getattr(prefs_of(patient), PREFERENCE.get(kind, "questions"), True):
        return Outcome(status="skipped", detail="switched off by the patient")
    if not payload.get("urgent"):
        quiet = quiet_of(patient)
        until = quiet_until(now, ZoneInfo(patient.timezone), quiet.start, quiet.end)
        if until is not None:  # quiet hours began (or moved) while it waited
            return Outcome(status="retry", detail="quiet hours", retry_after=until - now)
    targets = await devices.active_for(patient.id)
    if not targets:
        decided = await sms.from_notification(notify_id, payload, patient, now, limit=sms_limit)
        return Outcome(status=decided.status, detail=decided.detail)
    async with write_transaction():
        # Asked again under a shared hold: an erasure that began since the first read
        # has now finished, and its patient gets no push (nor a queued device token).
        held = await parties.patient_held(patient.id, exclusive=False)
        if held is None or held.erased_at is not None:
            return Outcome(status="skipped", detail="no patient")
        for device in targets:
            lang = device.locale if device.locale in texts.LANGS else patient.locale
            title, body = texts.PUSH[kind]["en" if lang == "en" else "ru"]
            data = {
                k: str(v)
                for k, v in {
                    "kind": kind,
                    "referral_id": payload["referral_id"],
                    "question_id": payload.get("question_id"),
                    "appointment_id": payload.get("appointment_id"),
                    "notification_id": str(notify_id),
                }.items()
                if v
            }
            await outbox.enqueue(
                topic=PUSH,
                payload={
                    "device_id": str(device.id),
                    "address": device.token,
                    "address_kind": device.kind or "fcm_token",
                    "title": title,
                    "body": body,
                    "data": data,
                    "collapse_key": payload["referral_id"],
                    "tag": f"n{notify_id}",
                    "ttl_seconds": int(TTL.get(kind, timedelta(days=1)).total_seconds()),
                    "urgent": bool(payload.get("urgent")),
                },
                dedupe_key=f"push:{notify_id}:{device.id}",
                referral_id=UUID(payload["referral_id"]),
                now=now,
            )
    return Outcome(status="done", detail=f"{len(targets)} device(s)")


async def deactivate_device(device_id: UUID, reason: str, now: datetime) -> None:
    await devices.deactivate_by_id(device_id, reason=reason, now=now)

"""Notifications: a notification's way to the patient's devices.

Two stages, each an outbox topic, each row done once (the timers that start many of
them are backend.services.timers):
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

from backend.domain.working_time import quiet_until
from backend.services import changes, sms, texts
from backend.services.profile import prefs_of, quiet_of
from backend.store import devices, outbox, parties
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome

NOTIFY, PUSH = "notify", "push"

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
        cursor = await changes.latest(patient.id)
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
                    # The sync feed's cursor now: newer than the app's, it has to sync.
                    "cursor": str(cursor),
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

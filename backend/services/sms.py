"""SMS to patients without the app: which notifications become an SMS, and each SMS's
way out through the outbox.

- The invite: when a referral is sent to a patient with no active app device, an SMS
  names the clinic, says it will call, and carries the patient's link (`invite`).
- A notification (backend.services.notifications) for a patient with no active device
  becomes an SMS instead of pushes (`from_notification`), if its kind goes by SMS, the
  patient's weekly allowance has room (urgent reminders first) and the number was not
  refused; questions asked together share one SMS.
- A sign-in code the patient asked for on the web page (`request_code`).

Each becomes a row of `sms_message` (refusals too, with the reason: they are the
figures of docs/sms.md) and an outbox message of topic `sms`. The text, the phone and
the link are made only when the worker sends it (`compose`), so the outbox and the log
hold no phone, no link and no code; quiet hours and relevance are checked again then
(an answered question, a moved appointment, an erased patient send nothing).
"""

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.sms import (
    BY_SMS,
    QUESTIONS_SHARE_SMS_WITHIN,
    URGENT,
    WEEK,
    SmsKind,
    invite_is_fresh,
    sms_parts,
    weekly_allowance,
)
from backend.domain.working_time import quiet_until
from backend.messages.sms import Sms, SmsResult
from backend.runtime.ids import new_id
from backend.services import clinic_settings, patient_links, texts
from backend.services.errors import Conflict
from backend.services.patient_links import LinkAccess
from backend.services.profile import prefs_of, quiet_of
from backend.store import devices, outbox, parties, questions, referrals
from backend.store import patient_links as link_rows
from backend.store import sms as sms_rows
from backend.store.engine import write_transaction
from backend.store.rows import PatientRow, ReferralRow, SmsMessageRow, WebSessionRow

TOPIC = "sms"
DEFAULT_WEEKLY_LIMIT = 3
_COUNTED = tuple(k.value for k in BY_SMS)
# The preference that silences each kind (backend.services.profile.NotificationPrefs).
_SWITCH = {"invite": "questions", "remind_24h": "reminders", "remind_2h": "reminders"}


class Decided(msgspec.Struct, frozen=True, kw_only=True):
    status: str  # done (queued) | skipped
    detail: str = ""


async def _queue(
    *,
    kind: SmsKind,
    source_key: str,
    patient_id: UUID,
    referral_id: UUID | None,
    planned_at: datetime,
    now: datetime,
    question_id: UUID | None = None,
    appointment_id: UUID | None = None,
    code_id: UUID | None = None,
    refused: str | None = None,
) -> Decided:
    """Write the decision; a queued SMS also gets its outbox message, due at `planned_at`."""
    message_id = new_id()
    inserted = await sms_rows.insert(
        message_id=message_id,
        source_key=source_key,
        patient_id=patient_id,
        referral_id=referral_id,
        kind=kind.value,
        urgent=kind in URGENT or kind is SmsKind.code,
        planned_at=planned_at,
        now=now,
        status="skipped" if refused else "queued",
        reason=refused,
        question_id=question_id,
        appointment_id=appointment_id,
        code_id=code_id,
    )
    if not inserted:
        return Decided(status="skipped", detail="decided before")
    if refused:
        return Decided(status="skipped", detail=refused)
    await outbox.enqueue(
        topic=TOPIC,
        payload={"message_id": str(message_id), "urgent": kind in URGENT or kind is SmsKind.code},
        dedupe_key=f"sms:{message_id}",
        available_at=planned_at,
        referral_id=referral_id,
        now=now,
    )
    return Decided(status="done", detail=f"SMS {kind.value} queued")


async def _refusal(
    patient: PatientRow, kind: SmsKind, now: datetime, limit: int | None
) -> str | None:
    """Why this patient gets no SMS of this kind now, or None. `limit` None: the weekly
    allowance is looked at later (the invite's, when it is sent: the worker knows it)."""
    if patient.sms_blocked_at is not None:
        return f"number refused by SMS.ru: {patient.sms_blocked_reason}"
    if not getattr(prefs_of(patient), _SWITCH.get(kind.value, "questions"), True):
        return "switched off by the patient"
    if limit is None:
        return None
    spent = await sms_rows.spent_since(patient.id, now - WEEK, kinds=_COUNTED)
    allowance = weekly_allowance(kind, sent_this_week=spent, limit=limit)
    return None if allowance.allowed else allowance.reason


async def invite(
    *, referral_id: UUID, patient_id: UUID, sent_at: datetime, now: datetime
) -> Decided:
    """The invite SMS of a referral just sent (inside the sending transaction). A patient
    with the app learns of it there; a referral sent days ago (an import) gets none."""
    if not invite_is_fresh(sent_at=sent_at, now=now):
        return Decided(status="skipped", detail="sent too long ago for an invite")
    if await devices.active_for(patient_id):
        return Decided(status="skipped", detail="the patient has the app")
    patient = await parties.patient(patient_id)
    if patient is None or patient.erased_at is not None:
        return Decided(status="skipped", detail="no patient")
    quiet = quiet_of(patient)
    planned = quiet_until(now, ZoneInfo(patient.timezone), quiet.start, quiet.end) or now
    return await _queue(
        kind=SmsKind.invite,
        source_key=f"invite:{referral_id}",
        patient_id=patient_id,
        referral_id=referral_id,
        planned_at=planned,
        now=now,
        refused=await _refusal(patient, SmsKind.invite, planned, None),
    )


async def from_notification(
    notify_id: int,
    payload: dict[str, Any],
    patient: PatientRow,
    now: datetime,
    *,
    limit: int = DEFAULT_WEEKLY_LIMIT,
) -> Decided:
    """A notification for a patient without an active device (quiet hours and switches
    were checked by the caller, as for pushes)."""
    try:
        kind = SmsKind(payload["kind"])
    except ValueError:
        return Decided(status="skipped", detail="no active device")
    if kind not in BY_SMS:
        return Decided(status="skipped", detail="no active device")
    referral_id = UUID(payload["referral_id"])
    question_id = UUID(payload["question_id"]) if payload.get("question_id") else None
    appointment_id = UUID(payload["appointment_id"]) if payload.get("appointment_id") else None
    refused = None
    if kind is SmsKind.question:
        since = now - QUESTIONS_SHARE_SMS_WITHIN
        if await sms_rows.recent_about(referral_id, since, kind=kind.value):
            refused = "shares the SMS of a question asked with it (the page shows both)"
    refused = refused or await _refusal(patient, kind, now, limit)
    async with write_transaction():
        return await _queue(
            kind=kind,
            source_key=f"notify:{notify_id}",
            patient_id=patient.id,
            referral_id=referral_id,
            planned_at=now,
            now=now,
            question_id=question_id,
            appointment_id=appointment_id,
            refused=refused,
        )


async def request_code(access: LinkAccess, *, secret: str, now: datetime) -> None:
    """A sign-in code the patient asked for on the web page, sent at once (the patient
    is waiting for it); at most three per 15 minutes (patient_links.issue_code)."""
    async with write_transaction():
        code_id = await patient_links.issue_code(access, secret=secret, now=now)
        patient = await parties.patient(access.patient_id)
        if patient is None or patient.erased_at is not None or patient.sms_blocked_at:
            raise Conflict("this number does not take SMS")  # the code goes unsaved
        await _queue(
            kind=SmsKind.code,
            source_key=f"code:{code_id}",
            patient_id=access.patient_id,
            referral_id=access.referral_id,
            planned_at=now,
            now=now,
            code_id=code_id,
        )


# --- sending -------------------------------------------------------------------------------


class Ready(msgspec.Struct, frozen=True, kw_only=True):
    message_id: UUID
    sms: Sms
    kind: str
    parts: int


class NotNow(msgspec.Struct, frozen=True, kw_only=True):
    status: str  # skipped (nothing to send any more) | retry (later: quiet hours)
    reason: str
    retry_at: datetime | None = None


async def _still_wanted(message: SmsMessageRow, referral: ReferralRow, now: datetime) -> str:
    """Why a queued SMS should no longer go, or ""."""
    kind = message.kind
    if kind == SmsKind.code:
        found = await link_rows.code(message.code)
        if found is None or found.used_at is not None or found.expires_at <= now:
            return "the code was used or has expired"
        return ""
    if referral.archived_at is not None:
        return "referral archived"
    if kind == SmsKind.invite:
        if referral.step in ("closed", "declined", "transferred"):
            return "the referral was closed before the invite went"
        if not invite_is_fresh(sent_at=referral.sent_at, now=now):
            return "sent too long ago for an invite"
        if await devices.active_for(message.patient):
            return "the patient has the app"
    if kind == SmsKind.question:
        question = await questions.get(message.question)
        if question is None or question.status != "requested" or question.expires_at <= now:
            return "the question was answered, withdrawn or has expired"
    if kind in (SmsKind.remind_24h, SmsKind.remind_2h):
        appointment = await sms_rows.appointment(message.appointment)
        if appointment is None or appointment.status != "booked":
            return "the appointment is no longer booked"
        if appointment.starts_at <= now:
            return "the appointment has begun"
    if kind == SmsKind.inactive and not await questions.open_about(
        message.patient, referral.id, now
    ):
        return "no open question left"
    return ""


async def compose(
    message_id: UUID,
    *,
    secret: str,
    public_url: str,
    now: datetime,
    weekly_limit: int = DEFAULT_WEEKLY_LIMIT,
) -> Ready | NotNow:
    """Make the text of a queued SMS, at the moment it goes out, and mark it as being
    sent; or say why it should not go (now, or at all)."""
    async with write_transaction():
        message = await sms_rows.get(message_id)
        if message is None:
            return NotNow(status="skipped", reason="no such SMS")
        if message.status not in ("queued", "sending"):
            return NotNow(status="skipped", reason=f"already {message.status}")
        patient = await parties.patient(message.patient)
        referral = await referrals.get(message.referral) if message.referral else None
        reason = ""
        if patient is None or patient.erased_at is not None:
            reason = "patient erased"
        elif patient.sms_blocked_at is not None:
            reason = f"number refused by SMS.ru: {patient.sms_blocked_reason}"
        elif referral is None:
            reason = "no referral"
        else:
            reason = await _still_wanted(message, referral, now)
        if not reason and message.kind == SmsKind.invite and message.status == "queued":
            # Counted when it goes (the service that sent the referral does not know the
            # configured allowance); the invite itself is among the queued ones.
            since = message.planned_at - WEEK
            spent = await sms_rows.spent_since(message.patient, since, kinds=_COUNTED) - 1
            allowance = weekly_allowance(SmsKind.invite, sent_this_week=spent, limit=weekly_limit)
            reason = "" if allowance.allowed else allowance.reason
        if reason:
            await sms_rows.finish(message_id, status="skipped", now=now, reason=reason)
            return NotNow(status="skipped", reason=reason)
        assert patient is not None and referral is not None
        if not message.urgent:
            quiet = quiet_of(patient)
            until = quiet_until(now, ZoneInfo(patient.timezone), quiet.start, quiet.end)
            if until is not None:  # held by an outage into the night: wait for the morning
                return NotNow(status="retry", reason="quiet hours", retry_at=until)
        lang: texts.Lang = "en" if patient.locale == "en" else "ru"
        kind = message.kind
        link_id = message.link
        if kind == SmsKind.code:
            text = texts.SMS["code"][lang].format(code=patient_links.code_of(secret, message.code))
        else:
            if link_id is None:  # each SMS its own link: its text is unique (see push/sms.py)
                link_id, token = await patient_links.mint(
                    secret=secret,
                    referral_id=referral.id,
                    patient_id=patient.id,
                    question_id=message.question,
                    now=now,
                )
            else:
                token = patient_links.token_of(secret, link_id)
            clinic = await parties.clinic(referral.clinic)
            text = texts.SMS[kind][lang].format(
                clinic=clinic.name if clinic else "",
                link=patient_links.link_url(public_url, token),
            )
        parts = sms_parts(text)
        # The referral's clinic names itself as the sender, when it has a name (its setting).
        sender = (await clinic_settings.effective_for(referral.clinic)).sender_name or ""
        if not await sms_rows.start_sending(message_id, link_id=link_id, parts=parts):
            return NotNow(status="skipped", reason="already sent")
    return Ready(
        message_id=message_id,
        sms=Sms(to=patient.phone, text=text, sender=sender),
        kind=kind,
        parts=parts,
    )


async def record(message_id: UUID, result: SmsResult, now: datetime) -> None:
    """What the vendor said, at once (before the next SMS of the batch goes): a message
    recorded as sent is never sent again."""
    async with write_transaction():
        if result.outcome == "sent":
            await sms_rows.finish(
                message_id,
                status="sent",
                now=now,
                reason=result.detail or None,
                vendor_id=result.vendor_id,
            )
        elif result.outcome == "bad_number":
            await sms_rows.finish(message_id, status="failed", now=now, reason=result.detail)
            message = await sms_rows.get(message_id)
            if message is not None:
                await sms_rows.block_number(message.patient, result.detail, now)
        elif result.outcome == "retry":
            await sms_rows.back_to_queue(message_id, result.detail)
        else:
            await sms_rows.finish(message_id, status="failed", now=now, reason=result.detail)


async def logged(message_id: UUID, now: datetime) -> None:
    await sms_rows.finish(
        message_id, status="logged", now=now, reason="no SMS provider configured: logged only"
    )


async def gave_up(message_id: UUID, reason: str, now: datetime) -> None:
    """The outbox's last try failed: the log says so."""
    await sms_rows.finish(message_id, status="failed", now=now, reason=reason)


# --- what SMS cost ---------------------------------------------------------------------------


class KindTotals(msgspec.Struct, kw_only=True):
    kind: str
    went: int = 0  # sent, or logged where no provider is configured
    parts: int = 0  # billed parts of those
    skipped: int = 0
    failed: int = 0
    waiting: int = 0  # queued or being sent


class Report(msgspec.Struct, kw_only=True):
    referrals: int
    # Referrals whose patients have no app device, and the SMS and parts that went to them.
    without_app: int = 0
    without_app_sms: int = 0
    without_app_parts: int = 0
    kinds: list[KindTotals]
    skipped_because: list[tuple[str, str, int]]  # kind, reason, messages

    @property
    def went(self) -> int:
        return sum(k.went for k in self.kinds)

    @property
    def parts(self) -> int:
        return sum(k.parts for k in self.kinds)


def _without_app(figures: dict[str, int]) -> dict[str, int]:
    return {
        "without_app": figures["referrals"],
        "without_app_sms": figures["went"],
        "without_app_parts": figures["parts"],
    }


async def report() -> Report:
    """Every SMS decided so far, by kind: how many went, how many billed parts, how many
    were refused and why (`plantrack sms-report`; docs/sms.md)."""
    by_kind: dict[str, KindTotals] = {}
    for row in await sms_rows.totals():
        totals = by_kind.setdefault(row.kind, KindTotals(kind=row.kind))
        status = row.status
        if status in ("sent", "logged"):
            totals.went += row.messages
            totals.parts += row.parts
        elif status == "skipped":
            totals.skipped += row.messages
        elif status == "failed":
            totals.failed += row.messages
        else:
            totals.waiting += row.messages
    order = [k.value for k in SmsKind]
    return Report(
        referrals=await sms_rows.referral_count(),
        **_without_app(await sms_rows.without_the_app()),
        kinds=sorted(
            by_kind.values(), key=lambda k: order.index(k.kind) if k.kind in order else 99
        ),
        skipped_because=[
            (r.kind, r.reason or "", r.messages) for r in await sms_rows.skip_reasons()
        ],
    )


async def held_for(patient_id: UUID) -> tuple[list[SmsMessageRow], list[WebSessionRow]]:
    """A patient's SMS log and browser sessions, for their data export."""
    return await sms_rows.of_patient(patient_id), await link_rows.sessions_of(patient_id)

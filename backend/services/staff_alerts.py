"""Alerts to staff, from the event to the inbox: raising, fanning out, delivering.

Outbox topics, each row done once:
- `staff_alert.timer`: a timed alert a referral's state wants (SLA 75 %/100 %, a no-show
  not rebooked); firing looks at the referral again and raises it if still true;
- `staff_alert`: one alert, due when it may go out (SLA alerts in the clinic's working
  hours, others after the night), fanned out to the people whose preferences want it;
- `staff_alert.email`, `staff_alert.crm_task`: one alert for one person, one channel;
- `staff_alert.digest`: one person's morning e-mail of the alerts they chose to batch.

Everything an alert knows of time comes from `clinic_calendar`, the one place that says
what a clinic's working hours are.
"""

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import msgspec

from backend.domain.derive import ClinicRules
from backend.domain.events import Event, Payment, Side
from backend.domain.funnel import ReferralFold, fold_referral, milestones_claimed
from backend.domain.roles import Role
from backend.domain.staff_alerts import (
    REBOOK_WITHIN,
    SLA_KINDS,
    AlertKind,
    AlertPrefs,
    Raised,
    alerts_of_events,
    digest_at,
    new_disputes,
    prefs_from,
    send_at,
    still_wanted,
)
from backend.domain.verification import VerificationPolicy, verify
from backend.domain.working_time import DEFAULT_HOURS, WorkingHours
from backend.integrations.adapters import ADAPTERS
from backend.integrations.base import CrmRejected, CrmTask, CrmUnavailable
from backend.messages.email import MailRejected, MailUnavailable, SmtpMailer
from backend.services import alert_texts
from backend.services.audit import Viewer, saw
from backend.services.clinic_settings import effective_for, rules_for
from backend.store import integrations as integration_store
from backend.store import ledger, outbox, parties, referrals
from backend.store import staff_alerts as store
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome
from backend.store.rows import AlertPerson, AlertRow, ClinicRow, LockedReferral

log = logging.getLogger("plantrack.alerts")

TIMER = "staff_alert.timer"
ALERT = "staff_alert"
EMAIL = "staff_alert.email"
CRM_TASK = "staff_alert.crm_task"
DIGEST = "staff_alert.digest"
TOPICS = (TIMER, ALERT, EMAIL, CRM_TASK, DIGEST)
CRMS = ("bitrix24", "amocrm")
DEFAULT_SLA = timedelta(minutes=120)
EXCHANGE_TZ = ZoneInfo("Europe/Moscow")
TASK_DEADLINE = timedelta(hours=2)  # a CRM task without an SLA of its own is due this soon
# An alert older than this when it could go out is history, not news (a worker that was
# down for days, or the demo's six months of stories): it is not sent.
STALE_AFTER = timedelta(days=3)


async def clinic_calendar(clinic: ClinicRow | None) -> tuple[ZoneInfo, WorkingHours]:
    """The clinic's time zone and working hours: the one place alerts ask "is it working
    time?". Its own hours and holidays (backend.services.clinic_settings), the same clock
    its first-contact SLA and "overdue" are counted in."""
    if clinic is None:
        return EXCHANGE_TZ, DEFAULT_HOURS
    settings = await effective_for(clinic.id, clinic.first_contact_sla_minutes)
    tz = ZoneInfo(clinic.timezone) if clinic.timezone else EXCHANGE_TZ
    return tz, settings.hours


async def sla_of(clinic: ClinicRow | None) -> timedelta:
    """The clinic's first-contact SLA in force (its own, else the exchange's default)."""
    if clinic is None:
        return DEFAULT_SLA
    settings = await effective_for(clinic.id, clinic.first_contact_sla_minutes)
    return settings.first_contact_sla


# --- raising ---------------------------------------------------------------------------


async def raise_alert(
    raised: Raised,
    *,
    clinic: ClinicRow | None,
    referral_id: UUID | None,
    now: datetime,
    rules: ClinicRules | None = None,
) -> int | None:
    """Record the alert once and queue its fan-out for when it may go out (inside the
    caller's transaction). `rules`: the clinic's, when the caller has them at hand (the
    recording does), in place of `clinic`'s row and a read of its calendar."""
    clinic_id = rules.clinic_id if rules else clinic.id if clinic else None
    scope = str(referral_id or clinic_id or "exchange")
    alert_id = await store.insert(
        dedupe_key=f"{raised.kind.value}:{scope}:{raised.key}"[:200],
        kind=raised.kind.value,
        clinic_id=clinic_id,
        referral_id=referral_id,
        details=dict(raised.details),
        happened_at=raised.happened_at,
        now=now,
    )
    if alert_id is None:
        return None
    tz, hours = (rules.tz, rules.settings.hours) if rules else await clinic_calendar(clinic)
    await outbox.enqueue(
        topic=ALERT,
        payload={"alert_id": alert_id},
        now=now,
        available_at=max(now, send_at(raised.kind, now, tz, hours)),
        dedupe_key=f"staff_alert:{alert_id}",
        referral_id=referral_id,
    )
    return alert_id


def _states(fold: ReferralFold, now: datetime) -> dict[str, str]:
    # Disputes do not depend on a clinic's deadlines (those only move awaiting,
    # unverified and overdue): the default policy tells them apart as well.
    return {m: v.state.value for m, v in verify(fold, now, VerificationPolicy()).items()}


async def after_record(
    referral: LockedReferral,
    before: ReferralFold,
    after: ReferralFold,
    new_events: list[Event],
    now: datetime,
    *,
    rules: ClinicRules,
) -> None:
    """In the recording's transaction: the alerts its new events raise."""
    raised = alerts_of_events(new_events)
    # Only a patient's word, a claim of a milestone or a payment (beside a patient's
    # receipt: backend.domain.receipts) can open a dispute: the pairing is only worked
    # out again for those.
    if any(
        e.side is Side.patient or milestones_claimed(e) or isinstance(e.body, Payment)
        for e in new_events
    ):
        raised += new_disputes(_states(before, now), _states(after, now), now)
    for r in raised:
        await raise_alert(r, clinic=None, referral_id=referral.id, now=now, rules=rules)


async def after_refresh(
    referral: LockedReferral, fold: ReferralFold, schedule: str, now: datetime, rules: ClinicRules
) -> None:
    """In every rewrite of a referral's derived rows (its timed alerts are kept by the
    recording, with its other timers): a plan that has just fallen behind."""
    if schedule == "behind" and referral.schedule != "behind" and fold.is_open:
        await raise_alert(
            Raised(kind=AlertKind.behind_schedule, key=f"behind:{now.date()}", happened_at=now),
            clinic=None,
            referral_id=referral.id,
            now=now,
            rules=rules,
        )


async def fire_timer(payload: dict[str, Any], now: datetime) -> Outcome:
    referral_id = UUID(payload["referral_id"])
    async with write_transaction():
        referral = await referrals.lock(referral_id)
        if referral is None:
            return Outcome(status="skipped", detail="no such referral")
        fold = fold_referral(await ledger.events_of(referral_id))
        rules = await rules_for(
            referral.clinic,
            referral.clinic_timezone,
            referral.clinic_sla_minutes,
            epoch=referral.rules_epoch,
        )
        tz, hours, sla = rules.tz, rules.settings.hours, rules.settings.first_contact_sla
        if not still_wanted(payload["key"], fold, sla=sla, tz=tz, hours=hours):
            return Outcome(status="skipped", detail="no longer true")
        kind = AlertKind(payload["kind"])
        due = None
        if kind in SLA_KINDS and fold.sent_at is not None:
            from backend.domain.working_time import add_working_time

            due = add_working_time(fold.sent_at, sla, tz, hours)
            if kind is AlertKind.sla_due and now >= due:
                return Outcome(status="skipped", detail="the SLA has passed already")
            if now - due > STALE_AFTER:
                return Outcome(status="skipped", detail="stale")
        elif kind is AlertKind.no_show_not_rebooked:
            missed = [a for a in fold.appointments if a.status == "noshow"]
            due = missed[-1].starts_at if missed else None
            if due is not None and now - due > STALE_AFTER + REBOOK_WITHIN:
                return Outcome(status="skipped", detail="stale")
        await raise_alert(
            Raised(
                kind=kind,
                key=payload["key"],
                happened_at=now,
                details={"due_at": due.isoformat()} if due else {},
            ),
            clinic=None,
            referral_id=referral_id,
            now=now,
            rules=rules,
        )
    return Outcome(status="done", detail=kind.value)


async def crm_failed(topic: str, payload: dict[str, Any], error: str | None, now: datetime) -> None:
    """A delivery from a clinic's CRM, or a referral pushed to it, failed for good."""
    clinic_id = referral_id = None
    system = "CRM"
    if "delivery_id" in payload:
        delivery = await integration_store.delivery(int(payload["delivery_id"]))
        if delivery is None:
            return
        clinic_id, system = delivery.clinic, delivery.system
        key = f"delivery:{payload['delivery_id']}"
    elif "referral_id" in payload:
        referral = await referrals.get(UUID(payload["referral_id"]))
        if referral is None:
            return
        clinic_id, referral_id = referral.clinic, referral.id
        key = f"outbound:{topic}"
    elif "integration_id" in payload:  # the scheduled re-read of a CRM was refused
        row = await integration_store.integration(UUID(payload["integration_id"]))
        if row is None:
            return
        clinic_id = row.clinic
        key = f"reconcile:{now.date().isoformat()}"  # at most one a day, not every 10 min
    else:
        return
    clinic = await parties.clinic(clinic_id)
    row = await integration_store.of_clinic(clinic_id)
    system = row.system if row else system
    async with write_transaction():
        await raise_alert(
            Raised(
                kind=AlertKind.crm_failed,
                key=key,
                happened_at=now,
                details={"system": system, "error": (error or "")[:300], **_ids(payload)},
            ),
            clinic=clinic,
            referral_id=referral_id,
            now=now,
        )


def _ids(payload: dict[str, Any]) -> dict[str, str]:
    return {"delivery_id": str(payload["delivery_id"])} if "delivery_id" in payload else {}


# --- fanning out -----------------------------------------------------------------------


async def fan_out(alert_id: int, now: datetime) -> Outcome:
    alert = await store.get(alert_id)
    if alert is None:
        return Outcome(status="skipped", detail="no such alert")
    if now - alert.created_at > STALE_AFTER:
        return Outcome(status="skipped", detail="stale")
    kind = AlertKind(alert.kind)
    clinic = await parties.clinic(alert.clinic) if alert.clinic else None
    integration = await integration_store.of_clinic(clinic.id) if clinic else None
    crm = integration.system if integration and integration.system in CRMS else None
    people = await store.recipients(alert.clinic, [r.value for r in Role])
    queued = 0
    async with write_transaction():
        for person in people:
            role = Role(person.role)
            prefs = _prefs(person)
            if not prefs.wants(role, kind):
                continue
            queued += 1
            if prefs.digest and kind not in SLA_KINDS:
                await _to_digest(person, alert_id, clinic, now)
                continue
            message = {"alert_id": alert_id, "staff_id": str(person.id)}
            if prefs.email:
                await outbox.enqueue(
                    topic=EMAIL,
                    payload=message,
                    now=now,
                    dedupe_key=f"{EMAIL}:{alert_id}:{person.id}",
                )
            clinic_person = person.clinic is not None
            if prefs.crm_task and crm and clinic_person and alert.referral is not None:
                await outbox.enqueue(
                    topic=CRM_TASK,
                    payload=message,
                    now=now,
                    dedupe_key=f"{CRM_TASK}:{alert_id}:{person.id}",
                )
    return Outcome(status="done", detail=f"{queued} person(s)")


def _prefs(person: AlertPerson) -> AlertPrefs:
    return prefs_from(person.alert_prefs)


async def _to_digest(
    person: AlertPerson, alert_id: int, clinic: ClinicRow | None, now: datetime
) -> None:
    await store.add_to_digest(person.id, alert_id, now)
    tz = ZoneInfo(await store.clinic_zone(person.clinic) or EXCHANGE_TZ.key)
    at = digest_at(now, tz)
    await outbox.enqueue(
        topic=DIGEST,
        payload={"staff_id": str(person.id)},
        now=now,
        available_at=at,
        dedupe_key=f"{DIGEST}:{person.id}:{at.date().isoformat()}",
    )


# --- delivering ------------------------------------------------------------------------


class Channels(msgspec.Struct, frozen=True, kw_only=True):
    """What delivery needs from the settings."""

    public_url: str
    secret_key: str | None = None
    mailer: SmtpMailer | None = None  # None: e-mails are written to the log


def _link(alert: AlertRow, person: AlertPerson, public_url: str) -> str:
    base = public_url.rstrip("/") + "/admin"
    kind = AlertKind(alert.kind)
    if person.clinic is None:  # the exchange's desk
        if kind is AlertKind.crm_failed:
            return f"{base}/inbox"
        return f"{base}/disputes"
    if kind is AlertKind.new_dispute:
        return f"{base}/clinic-disputes"
    if alert.referral is not None:
        return f"{base}/worklist?referral={alert.referral}"
    return f"{base}/worklist"


async def _rendered(alert: AlertRow, person: AlertPerson, public_url: str):
    prefs = _prefs(person)
    lang = prefs.lang
    clinic = await parties.clinic(alert.clinic) if alert.clinic else None
    tz, _ = await clinic_calendar(clinic)
    referral = await referrals.get(alert.referral) if alert.referral else None
    text = alert_texts.render(
        alert,
        clinic_name=clinic.name if clinic else "—",
        invite_code=referral.invite_code if referral else None,
        tz=tz,
        lang=lang,
        link=_link(alert, person, public_url),
    )
    return text, lang, referral


def _message(to: str, subject: str, body: str, message_key: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now().astimezone())
    # The same alert for the same person keeps its Message-ID: a resend after a crash is
    # recognised by mail clients as the same letter.
    message["Message-ID"] = make_msgid(idstring=message_key, domain="plantrack.alerts")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


async def _send(channels: Channels, message: EmailMessage, what: str) -> Outcome:
    if channels.mailer is None:
        log.info("e-mail not sent: no PLANTRACK_SMTP_URL", extra={"fields": {"what": what}})
        return Outcome(status="logged")
    try:
        await channels.mailer.send(message)
    except MailUnavailable as exc:
        return Outcome(status="retry", detail=str(exc))
    except MailRejected as exc:
        return Outcome(status="failed", detail=str(exc))
    return Outcome(status="done")


async def send_email(payload: dict[str, Any], channels: Channels) -> Outcome:
    alert = await store.get(int(payload["alert_id"]))
    person = await store.staff(UUID(payload["staff_id"]))
    if alert is None or person is None or person.archived_at is not None:
        return Outcome(status="skipped", detail="no alert or no active person")
    text, lang, _ = await _rendered(alert, person, channels.public_url)
    message = _message(person.email, text.subject, text.body(lang), f"a{alert.id}.{person.id}")
    return await _send(channels, message, f"alert {alert.id}")


async def send_digest(payload: dict[str, Any], channels: Channels, now: datetime) -> Outcome:
    person = await store.staff(UUID(payload["staff_id"]))
    if person is None or person.archived_at is not None:
        return Outcome(status="skipped", detail="no active person")
    ids = await store.waiting_digest(person.id)
    alerts = await store.many(ids)
    if not alerts:
        return Outcome(status="skipped", detail="nothing waiting")
    lang = _prefs(person).lang
    parts = []
    for alert in alerts:
        text, _, _ = await _rendered(alert, person, channels.public_url)
        parts.append("\n".join([f"• {text.subject}", *text.lines[:1], text.link]))
    body = "\n\n".join(parts) + "\n\n--\n" + alert_texts.LABELS["privacy"][lang]
    message = _message(
        person.email,
        alert_texts.digest_subject(len(alerts), lang),
        body,
        f"d{person.id}.{now.date().isoformat()}",
    )
    done = await _send(channels, message, f"digest of {len(alerts)}")
    if done.status in ("done", "logged"):
        async with write_transaction():
            await store.mark_digested(person.id, [a.id for a in alerts], now)
    return done


async def create_crm_task(
    payload: dict[str, Any], channels: Channels, http: httpx.AsyncClient, *, last_try: bool
) -> Outcome:
    from backend.services.connections import connection, crm_call_failed

    alert = await store.get(int(payload["alert_id"]))
    person = await store.staff(UUID(payload["staff_id"]))
    if alert is None or person is None or person.archived_at is not None:
        return Outcome(status="skipped", detail="no alert or no active person")
    if channels.secret_key is None or alert.referral is None:
        return Outcome(status="skipped", detail="nothing to tie a task to")
    row = await integration_store.of_clinic(alert.clinic)
    if row is None or not ADAPTERS[row.system].crm:
        return Outcome(status="skipped", detail="the clinic has no CRM now")
    external_id = await integration_store.external_id_of(alert.referral, row.system)
    if external_id is None:  # the referral's own way into the CRM may still be queued
        if last_try:
            return Outcome(status="skipped", detail="the referral never reached the CRM")
        return Outcome(status="retry", detail="the referral is not in the CRM yet")
    text, lang, _ = await _rendered(alert, person, channels.public_url)
    due = alert.details.get("due_at")
    deadline = datetime.fromisoformat(due) if due else alert.created_at + TASK_DEADLINE
    if deadline <= alert.created_at:
        deadline = alert.created_at + TASK_DEADLINE
    task = CrmTask(
        marker=f"plantrack #{alert.id}-{str(person.id)[:8]}",
        title=text.subject,
        description=text.body(lang),
        deadline=deadline,
        external_id=external_id,
        responsible=_prefs(person).crm_user_id,
    )
    conn = await connection(row, channels.secret_key)
    try:
        task_id = await ADAPTERS[row.system].add_task(conn, http, task)
    except (CrmUnavailable, CrmRejected) as exc:
        return crm_call_failed(exc, last_try=last_try)
    return Outcome(status="done", detail=f"task {task_id}")


# --- preferences -----------------------------------------------------------------------


async def preferences(staff_id: UUID) -> AlertPrefs:
    person = await store.staff(staff_id)
    return _prefs(person) if person else AlertPrefs()


async def set_preferences(staff_id: UUID, prefs: AlertPrefs, *, role: Role) -> AlertPrefs:
    """Save a person's choices; kinds their role may not receive are dropped."""
    from backend.domain.staff_alerts import may_receive

    if prefs.kinds is not None:
        prefs = msgspec.structs.replace(
            prefs, kinds=frozenset(k for k in prefs.kinds if may_receive(role, k))
        )
    async with write_transaction():
        await store.save_prefs(staff_id, msgspec.to_builtins(prefs))
    return prefs


async def save_own_preferences(viewer: Viewer, prefs: AlertPrefs) -> AlertPrefs:
    """The viewer saves their own choices (the API and the staff page alike); the change
    is written to the audit log."""
    staff = viewer.principal
    saved = await set_preferences(staff.staff_id, prefs, role=staff.role)
    await saw(
        viewer,
        action="alert_preferences_changed",
        object_kind="staff",
        object_id=str(staff.staff_id),
        details=msgspec.to_builtins(saved),
    )
    return saved


async def recent(clinic_id: UUID | None, *, limit: int, before_id: int | None) -> list[AlertRow]:
    """The alerts raised about a clinic, newest first."""
    return await store.recent(clinic_id=clinic_id, kinds=None, limit=limit, before_id=before_id)

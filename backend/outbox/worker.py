"""The outbox worker: claims due messages, hands them to their topic's handler in
batches, records each outcome; between batches it re-folds referrals whose
verification deadlines passed.

A worker claims only the topics it has handlers for; messages of other topics wait for a
worker that has them. Claims are leases (backend.store.outbox): a worker that dies leaves
its messages to the next one once the lease runs out, and an outcome counts only from the
worker that still holds the message — so nothing is lost and no row is completed twice. A push the
dead worker had already sent is sent again with the same notification tag, which
replaces it on the phone instead of showing it twice.
"""

import asyncio
import dataclasses
import logging
import os
import random
import socket
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from uuid import UUID

import httpx
import msgspec

from backend.integrations import vendor_http
from backend.messages.sms import SmsSender, make_sms_sender
from backend.push.fcm import FcmSender, Push
from backend.runtime.clock import utcnow
from backend.runtime.media_files import MediaFiles, media_files_from
from backend.services import (
    clinic_settings,
    crm_outbound,
    crm_reconcile,
    idempotency,
    inbox,
    notifications,
    restatements,
    sms,
    staff_alerts,
    timers,
)
from backend.services.recording import reevaluate_due
from backend.store import outbox, privacy
from backend.store.outbox import Claimed, Outcome
from backend.store.unavailable import is_unavailable

log = logging.getLogger("plantrack.worker")

LEASE = timedelta(minutes=2)
# Generous: with the backoff below, the sixteenth try comes some three to six hours
# after the first, so a vendor's outage of an hour or two delays a message, never drops it.
MAX_ATTEMPTS = 16
MAX_BACKOFF = timedelta(hours=1)
# How often a worker deletes patients' idempotency keys past their 24 hours.
SWEEP_EVERY = timedelta(hours=1)


# A handler takes a topic's claimed messages and the batch's `now`, and says how each went.
Handler = Callable[[list[Claimed], datetime], Awaitable[list[Outcome]]]


def backoff(attempt: int) -> timedelta:
    """Exponential, between half and all of 2^attempt seconds (capped at an hour): the
    jitter spreads a crowd of retries after an outage, the floor keeps them from
    hammering a vendor that is still down."""
    cap = min(MAX_BACKOFF.total_seconds(), 2.0**attempt)
    return timedelta(seconds=random.uniform(cap / 2, cap))


def one_by_one(handle: Callable[[Claimed, datetime], Awaitable[Outcome]]) -> Handler:
    async def run(messages: list[Claimed], now: datetime) -> list[Outcome]:
        return [await handle(m, now) for m in messages]

    return run


async def handle_timer(message: Claimed, now: datetime) -> Outcome:
    return await timers.fire_timer(message.payload, now)


async def handle_notify(
    message: Claimed, now: datetime, *, sms_limit: int = sms.DEFAULT_WEEKLY_LIMIT
) -> Outcome:
    return await notifications.fan_out(message.id, message.payload, now, sms_limit=sms_limit)


async def handle_restate(message: Claimed, now: datetime) -> Outcome:
    """One chunk of a restatement (reports re-folded after a settings change); the next
    chunk is its own message, so a long one never runs out of attempts."""
    await restatements.run_restatement(UUID(message.payload["restatement_id"]), now=now)
    return Outcome(status="done")


def push_handler(sender: FcmSender | None) -> Handler:
    async def send(messages: list[Claimed], now: datetime) -> list[Outcome]:
        pushes = [msgspec.convert(_push_fields(m.payload), Push) for m in messages]
        if sender is None:
            for m in messages:
                log.info(
                    "push not sent: no FCM credentials configured",
                    extra={"fields": {"outbox_id": m.id, "kind": m.payload["data"].get("kind")}},
                )
            return [Outcome(status="logged") for _ in messages]
        results = await sender.send(pushes)
        outcomes = []
        for message, result in zip(messages, results, strict=True):
            if result.outcome == "delivered":
                outcomes.append(Outcome(status="done"))
            elif result.outcome == "token_gone":
                await notifications.deactivate_device(
                    UUID(message.payload["device_id"]), result.detail, now
                )
                outcomes.append(Outcome(status="skipped", detail=f"device gone: {result.detail}"))
            elif result.outcome == "retry":
                outcomes.append(
                    Outcome(status="retry", detail=result.detail, retry_after=result.retry_after)
                )
            else:
                outcomes.append(Outcome(status="failed", detail=result.detail))
        return outcomes

    return send


@dataclasses.dataclass(frozen=True, kw_only=True)
class SmsDelivery:
    """How the worker sends SMS: the provider (None: log only), what texts need (the
    secret the links and codes derive from, the public address), the weekly allowance,
    and how long one batch may spend sending: well under the outbox lease, so no other
    worker takes a message back while this one may still be sending it."""

    sender: SmsSender | None
    secret: str
    public_url: str
    weekly_limit: int = sms.DEFAULT_WEEKLY_LIMIT
    batch_seconds: float = 50.0
    log_texts: bool = False  # dev only: the text (with its link) in the log line


def sms_handler(delivery: SmsDelivery) -> Handler:
    """One SMS at a time, urgent ones first, each outcome recorded before the next goes.
    A vendor that does not answer (down, or cut by the timeout) is not asked again in
    this batch: the rest wait for the next one, and the other topics keep flowing."""

    async def send(messages: list[Claimed], now: datetime) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(messages)
        started = time.monotonic()
        down: str | None = None
        order = sorted(range(len(messages)), key=lambda i: not messages[i].payload.get("urgent"))
        for i in order:
            message = messages[i]
            message_id = UUID(message.payload["message_id"])
            if down is not None or time.monotonic() - started > delivery.batch_seconds:
                outcomes[i] = Outcome(status="retry", detail=down or "batch time used up")
                continue
            ready = await sms.compose(
                message_id,
                secret=delivery.secret,
                public_url=delivery.public_url,
                now=now,
                weekly_limit=delivery.weekly_limit,
            )
            if isinstance(ready, sms.NotNow):
                wait = ready.retry_at - now if ready.retry_at is not None else None
                outcomes[i] = Outcome(status=ready.status, detail=ready.reason, retry_after=wait)
                continue
            fields = {"outbox_id": message.id, "kind": ready.kind, "parts": ready.parts}
            if delivery.sender is None:
                if delivery.log_texts:
                    fields["text"] = ready.sms.text
                log.info("SMS not sent: no provider configured", extra={"fields": fields})
                await sms.logged(message_id, now)
                outcomes[i] = Outcome(status="logged")
                continue
            result = await delivery.sender.send(ready.sms)
            await sms.record(message_id, result, now)
            if result.outcome == "sent":
                outcomes[i] = Outcome(status="done", detail=result.detail or None)
            elif result.outcome == "bad_number":
                outcomes[i] = Outcome(status="skipped", detail=f"number refused: {result.detail}")
            elif result.outcome == "retry":
                if result.vendor_down:
                    down = result.detail
                outcomes[i] = Outcome(
                    status="retry", detail=result.detail, retry_after=result.retry_after
                )
            else:
                outcomes[i] = Outcome(status="failed", detail=result.detail)
            log.info("SMS " + result.outcome, extra={"fields": {**fields, "detail": result.detail}})
        done = [o if o is not None else Outcome(status="retry") for o in outcomes]
        for message, outcome in zip(messages, done, strict=True):
            if outcome.status == "retry" and message.attempts >= MAX_ATTEMPTS:
                # The outbox gives up on it now (worker._record): so does the SMS log.
                await sms.gave_up(
                    UUID(message.payload["message_id"]), f"gave up: {outcome.detail}", now
                )
        return done

    return send


def make_sms(settings) -> SmsDelivery:
    """The SMS delivery the settings describe (its sender binds to the running loop)."""
    timeout = settings.sms_timeout_seconds
    return SmsDelivery(
        sender=make_sms_sender(settings),
        secret=settings.secret_key,
        public_url=settings.public_url,
        weekly_limit=settings.sms_weekly_limit,
        batch_seconds=max(1.0, settings.worker_lease_seconds / 2 - timeout),
        log_texts=settings.env == "dev",
    )


def _push_fields(payload: dict) -> dict:
    return {k: payload[k] for k in Push.__struct_fields__}


def integration_handlers(
    secret_key: str, timeout: float = vendor_http.TIMEOUT_S
) -> dict[str, Handler]:
    """Deliveries from clinics' systems, referrals out to their CRMs, CRM reconcile.
    Each batch shares one HTTP client; the vendors' rate limits hold across batches, and
    a vendor that hangs costs the batch one `timeout` (backend.integrations.vendor_http)."""

    def batch(run: Callable[[Claimed, httpx.AsyncClient, datetime], Awaitable[Outcome]]) -> Handler:
        async def handle(messages: list[Claimed], now: datetime) -> list[Outcome]:
            async with vendor_http.client(timeout) as http:
                done = [await run(m, http, now) for m in messages]
            await alert_failed(messages, done, now)
            return done

        return handle

    async def alert_failed(messages: list[Claimed], done: list[Outcome], now: datetime) -> None:
        for m, d in zip(messages, done, strict=True):
            if d.status == "failed":  # a person must look: tell them
                await staff_alerts.crm_failed(m.topic, m.payload, d.detail, now)

    async def take_deliveries(messages: list[Claimed], now: datetime) -> list[Outcome]:
        """The batch's deliveries together (services.inbox.process_many)."""
        async with vendor_http.client(timeout) as http:
            jobs = [(m.payload["delivery_id"], m.attempts >= MAX_ATTEMPTS) for m in messages]
            done = await inbox.process_many(jobs, http, secret_key=secret_key, now=now)
        await alert_failed(messages, done, now)
        return done

    async def push(m: Claimed, http: httpx.AsyncClient, now: datetime) -> Outcome:
        return await crm_outbound.push_referral(
            UUID(m.payload["referral_id"]),
            http,
            secret_key=secret_key,
            last_try=m.attempts >= MAX_ATTEMPTS,
            now=now,
        )

    async def reconcile_pass(m: Claimed, http: httpx.AsyncClient, now: datetime) -> Outcome:
        return await crm_reconcile.reconcile(
            UUID(m.payload["integration_id"]),
            http,
            secret_key=secret_key,
            last_try=m.attempts >= MAX_ATTEMPTS,
            now=now,
        )

    return {
        inbox.INBOX: take_deliveries,
        crm_outbound.OUTBOUND: batch(push),
        crm_reconcile.RECONCILE: batch(reconcile_pass),
    }


def alert_handlers(channels: staff_alerts.Channels) -> dict[str, Handler]:
    """Staff alerts (backend.services.staff_alerts): their timers, the fan-out to each
    person, e-mails and digests over the channels, tasks in the clinic's CRM."""

    async def timer(m: Claimed, now: datetime) -> Outcome:
        return await staff_alerts.fire_timer(m.payload, now)

    async def fan_out(m: Claimed, now: datetime) -> Outcome:
        return await staff_alerts.fan_out(int(m.payload["alert_id"]), now)

    async def email(m: Claimed, now: datetime) -> Outcome:
        return await staff_alerts.send_email(m.payload, channels)

    async def digest(m: Claimed, now: datetime) -> Outcome:
        return await staff_alerts.send_digest(m.payload, channels, now)

    async def crm_tasks(messages: list[Claimed], now: datetime) -> list[Outcome]:
        async with httpx.AsyncClient() as http:
            return [
                await staff_alerts.create_crm_task(
                    m.payload, channels, http, last_try=m.attempts >= MAX_ATTEMPTS
                )
                for m in messages
            ]

    return {
        staff_alerts.TIMER: one_by_one(timer),
        staff_alerts.ALERT: one_by_one(fan_out),
        staff_alerts.EMAIL: one_by_one(email),
        staff_alerts.DIGEST: one_by_one(digest),
        staff_alerts.CRM_TASK: crm_tasks,
    }


def media_erase_handler(files: MediaFiles) -> Handler:
    """Picture files of an erased patient, every size, removed from the media store
    (idempotent: a file already gone is fine, so a retry or a second worker does no harm)."""

    async def erase(message: Claimed, now: datetime) -> Outcome:
        for key in message.payload["keys"]:
            await files.delete(key)
        return Outcome(status="done")

    return one_by_one(erase)


def handlers(
    sender: FcmSender | None = None,
    secret_key: str | None = None,
    alerts: staff_alerts.Channels | None = None,
    *,
    vendor_timeout: float = vendor_http.TIMEOUT_S,
    media_files: MediaFiles | None = None,
    sms_delivery: SmsDelivery | None = None,
) -> dict[str, Handler]:
    """Every topic's handler; integrations only with the key that opens their secrets;
    staff alerts with their channels (e-mail, CRM tasks); SMS with a delivery (make_sms);
    erased patients' picture files only with the media store (a worker takes only the
    topics it has handlers for)."""
    limit = sms_delivery.weekly_limit if sms_delivery else sms.DEFAULT_WEEKLY_LIMIT

    async def notify(message: Claimed, now: datetime) -> Outcome:
        return await handle_notify(message, now, sms_limit=limit)

    topics = {
        timers.TOPIC: one_by_one(handle_timer),
        clinic_settings.RESTATE: one_by_one(handle_restate),
        notifications.NOTIFY: one_by_one(notify),
        notifications.PUSH: push_handler(sender),
    }
    if secret_key:
        topics |= integration_handlers(secret_key, vendor_timeout)
    if alerts is not None:
        topics |= alert_handlers(alerts)
    if media_files is not None:
        topics[privacy.MEDIA_ERASE_TOPIC] = media_erase_handler(media_files)
    if sms_delivery is not None:
        topics[sms.TOPIC] = sms_handler(sms_delivery)
    return topics


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_once(
    topic_handlers: dict[str, Handler],
    *,
    worker: str,
    now: datetime | None = None,
    batch: int = 500,
    lease: timedelta = LEASE,
) -> int:
    """Deliver one batch; returns how many messages were handled."""
    now = now or utcnow()
    claimed = await outbox.claim(
        worker=worker, limit=batch, lease=lease, now=now, topics=sorted(topic_handlers)
    )
    by_topic: dict[str, list[Claimed]] = defaultdict(list)
    for message in claimed:
        by_topic[message.topic].append(message)
    for topic, messages in by_topic.items():
        handler = topic_handlers.get(topic)
        if handler is None:
            outcomes = [Outcome(status="failed", detail=f"no handler for topic {topic}")] * len(
                messages
            )
        else:
            try:
                outcomes = await handler(messages, now)
            except Exception as exc:  # a handler bug must not stop the queue
                log.exception("handler failed", extra={"fields": {"topic": topic}})
                outcomes = [Outcome(status="retry", detail=type(exc).__name__)] * len(messages)
        await _record(messages, outcomes, worker=worker, now=now)
    return len(claimed)


async def _record(
    messages: list[Claimed], outcomes: list[Outcome], *, worker: str, now: datetime
) -> None:
    """Retries one by one (each has its own time); final outcomes grouped, one UPDATE each."""
    finals: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for message, outcome in zip(messages, outcomes, strict=True):
        if outcome.status == "retry" and message.attempts < MAX_ATTEMPTS:
            delay = max(outcome.retry_after or timedelta(0), backoff(message.attempts))
            await outbox.retry_later(
                message.id, worker=worker, at=now + delay, error=outcome.detail or "retry"
            )
            continue
        status, error = outcome.status, outcome.detail
        if status == "retry":
            status, error = "failed", f"gave up after {message.attempts} attempts: {error}"
        finals[(status, error)].append(message.id)
    finished_at = utcnow()
    for (status, error), ids in finals.items():
        await outbox.finish_many(ids, worker=worker, status=status, now=finished_at, error=error)


OUTAGE_WAIT_MAX_S = 2.0  # longest sleep between looks at a database that is down


async def run_forever(
    topic_handlers: dict[str, Handler],
    *,
    interval: float = 1.0,
    stop: asyncio.Event | None = None,
    lease: timedelta = LEASE,
    batch: int = 500,
) -> None:
    """Deliver until `stop`. A database outage is waited out (a warning when it starts,
    one when it ends, short sleeps between); afterwards the messages this worker held
    when it lost the database are handed back at once rather than after their lease."""
    stop = stop or asyncio.Event()
    worker = worker_name()
    log.info("worker started", extra={"fields": {"worker": worker}})
    outage_since: float | None = None
    next_sweep: datetime | None = None
    wait = interval
    while not stop.is_set():
        try:
            if outage_since is not None:
                released = await outbox.release_held(worker=worker)
                log.warning(
                    "database back; worker resumes",
                    extra={
                        "fields": {
                            "down_s": round(time.monotonic() - outage_since, 1),
                            "released": released,
                        }
                    },
                )
                outage_since, wait = None, interval
            handled = await run_once(topic_handlers, worker=worker, lease=lease, batch=batch)
            refolded = await reevaluate_due()
            if next_sweep is None or utcnow() >= next_sweep:
                next_sweep = utcnow() + SWEEP_EVERY
                forgotten = await idempotency.sweep(utcnow())
                if forgotten:
                    log.info("idempotency keys swept", extra={"fields": {"deleted": forgotten}})
            if handled or refolded:
                log.info(
                    "worker batch", extra={"fields": {"handled": handled, "refolded": refolded}}
                )
                continue  # more may be waiting
        except Exception as exc:
            if not is_unavailable(exc):
                log.exception("worker loop error; retrying")
            else:
                if outage_since is None:
                    outage_since = time.monotonic()
                    log.warning(
                        "database unavailable; worker waits",
                        extra={"fields": {"error": type(exc).__name__}},
                    )
                wait = min(OUTAGE_WAIT_MAX_S, max(wait * 2, interval))
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                continue
        with suppress(TimeoutError):  # idle: poll again after `interval`
            await asyncio.wait_for(stop.wait(), timeout=interval)


def make_alert_channels(settings) -> staff_alerts.Channels:
    """E-mail over PLANTRACK_SMTP_URL (or to the log without it) and CRM tasks."""
    from backend.messages.email import SmtpMailer

    mailer = SmtpMailer(settings.smtp_url, settings.smtp_from) if settings.smtp_url else None
    if mailer is None:
        log.warning("no PLANTRACK_SMTP_URL: staff alert e-mails will be written to the log")
    return staff_alerts.Channels(
        public_url=settings.public_url, secret_key=settings.secret_key, mailer=mailer
    )


def make_sender(settings) -> FcmSender | None:
    """The FCM sender, or None (log only) when no credentials are configured. Call it
    inside the running event loop: firebase-admin's async client binds to that loop."""
    if not settings.fcm_credentials:
        log.warning("no GOOGLE_APPLICATION_CREDENTIALS: pushes will be written to the log")
        return None
    return FcmSender(
        credentials_path=settings.fcm_credentials,
        project_id=settings.firebase_project_id,
        endpoint=settings.fcm_endpoint,
        timeout=settings.vendor_timeout_seconds,
    )


@asynccontextmanager
async def topics_from(settings) -> AsyncIterator[dict[str, Handler]]:
    """The handler of every topic with the senders the settings configure (the app's
    embedded worker and `plantrack worker` alike); the senders are closed after."""
    sender = make_sender(settings)
    sms_delivery = make_sms(settings)
    try:
        yield handlers(
            sender,
            settings.secret_key,
            make_alert_channels(settings),
            vendor_timeout=settings.vendor_timeout_seconds,
            media_files=media_files_from(settings),
            sms_delivery=sms_delivery,
        )
    finally:
        if sender is not None:
            await sender.aclose()
        if sms_delivery.sender is not None:
            await sms_delivery.sender.aclose()

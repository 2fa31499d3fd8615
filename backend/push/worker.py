"""The outbox worker: claims due messages, hands each to its topic's handler, records
the outcome; between batches it re-folds referrals whose verification deadlines passed.

Handlers grow with later issues (FCM delivery, CRM calls). Until a topic has a real
channel configured, its handler writes the message to the log and the outbox marks it
`logged`, so it is visible that nothing was sent.
"""

import asyncio
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta

import msgspec

from backend.clock import utcnow
from backend.services.recording import QUESTION_TOPIC, reevaluate_due
from backend.store import outbox
from backend.store.outbox import Claimed

log = logging.getLogger("plantrack.worker")

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8


class Outcome(msgspec.Struct, frozen=True):
    status: str  # done | logged | failed | retry
    error: str | None = None
    retry_after: timedelta | None = None


Handler = Callable[[Claimed], Awaitable[Outcome]]


async def log_only(message: Claimed) -> Outcome:
    """No channel configured: say so in the log, with ids only (no personal data)."""
    log.info(
        "not sent: no channel configured",
        extra={
            "fields": {
                "topic": message.topic,
                "outbox_id": message.id,
                "kind": message.payload.get("kind"),
            }
        },
    )
    return Outcome(status="logged")


def default_handlers() -> dict[str, Handler]:
    return {QUESTION_TOPIC: log_only}


def backoff(attempt: int) -> timedelta:
    """Exponential with full jitter: 2^attempt seconds at most, capped at an hour."""
    return timedelta(seconds=random.uniform(0, min(3600, 2**attempt)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_once(
    handlers: dict[str, Handler], *, worker: str, now: datetime | None = None, batch: int = 100
) -> int:
    """Deliver one batch; returns how many messages were handled."""
    now = now or utcnow()
    claimed = await outbox.claim(worker=worker, limit=batch, lease=LEASE, now=now)
    for message in claimed:
        handler = handlers.get(message.topic)
        if handler is None:
            outcome = Outcome(status="failed", error=f"no handler for topic {message.topic}")
        else:
            try:
                outcome = await handler(message)
            except Exception as exc:  # a handler bug must not stop the queue
                log.exception("handler failed", extra={"fields": {"outbox_id": message.id}})
                outcome = Outcome(status="retry", error=type(exc).__name__)
        if outcome.status == "retry" and message.attempts < MAX_ATTEMPTS:
            delay = outcome.retry_after or backoff(message.attempts)
            await outbox.retry_later(
                message.id, worker=worker, at=now + delay, error=outcome.error or "retry"
            )
        else:
            status = "failed" if outcome.status == "retry" else outcome.status
            await outbox.finish(
                message.id, worker=worker, status=status, now=utcnow(), error=outcome.error
            )
    return len(claimed)


async def run_forever(
    handlers: dict[str, Handler], *, interval: float = 1.0, stop: asyncio.Event | None = None
) -> None:
    stop = stop or asyncio.Event()
    worker = worker_name()
    log.info("worker started", extra={"fields": {"worker": worker}})
    while not stop.is_set():
        try:
            handled = await run_once(handlers, worker=worker)
            refolded = await reevaluate_due()
            if handled or refolded:
                log.info("worker batch", extra={"fields": {"sent": handled, "refolded": refolded}})
                continue  # more may be waiting
        except Exception:
            log.exception("worker loop error; retrying")
        with suppress(TimeoutError):  # idle: poll again after `interval`
            await asyncio.wait_for(stop.wait(), timeout=interval)

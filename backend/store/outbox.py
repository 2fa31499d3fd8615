"""The transactional outbox: side effects written with the change, delivered by workers.

Claiming is one UPDATE … RETURNING over the due rows. On PostgreSQL the inner SELECT
takes `FOR UPDATE SKIP LOCKED`, so several workers share the rows without waiting on
each other; on SQLite the write transaction holds the whole database, which makes the
same statement safe there too, one worker at a time.
"""

from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import msgspec

from backend.store import sql
from backend.store.engine import is_postgres
from backend.store.rows import OutboxRow, json_object, typed
from backend.store.tables import Outbox


async def enqueue(
    *,
    topic: str,
    payload: dict[str, Any],
    now: datetime,
    available_at: datetime | None = None,
    dedupe_key: str | None = None,
    referral_id: UUID | None = None,
) -> None:
    """Add a message; a message with the same dedupe key is added once."""
    row = Outbox(
        topic=topic,
        payload=msgspec.json.encode(payload).decode(),
        dedupe_key=dedupe_key,
        referral=referral_id,
        status="pending",
        available_at=available_at or now,
        created_at=now,
    )
    query = Outbox.insert(row)
    if dedupe_key is not None:
        query = query.on_conflict(target=(Outbox.dedupe_key,), action="DO NOTHING")
    await query


Status = Literal["done", "logged", "skipped", "failed", "retry"]


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one outbox message, whoever handled it: done; logged (no sender
    configured, as in dev); skipped (no longer wanted); failed (a person must look); or
    retry, after `retry_after` if the handler knows (a vendor's Retry-After, the end of
    quiet hours), else after the worker's backoff. `detail` says what happened."""

    status: Status
    detail: str | None = None
    retry_after: timedelta | None = None


class Claimed(msgspec.Struct, frozen=True):
    id: int
    topic: str
    payload: dict[str, Any]
    attempts: int
    referral: UUID | None


async def claim(
    *,
    worker: str,
    limit: int,
    lease: timedelta,
    now: datetime,
    topics: list[str] | None = None,
) -> list[Claimed]:
    """Take up to `limit` due messages for `lease`; a lease that runs out (a worker that
    died) makes its messages due again. With `topics`, only messages of those topics: a
    worker takes only what it can deliver."""
    lock = "FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    only = ""
    if topics is not None:
        only = "AND topic IN ({})".format(", ".join("{}" for _ in topics)) if topics else "AND 0=1"
    rows = await sql.run(
        f"""
        UPDATE "outbox"
           SET status = 'in_flight', locked_by = {{}}, locked_until = {{}},
               attempts = attempts + 1
         WHERE id IN (
               SELECT id FROM "outbox"
                WHERE ((status = 'pending' AND available_at <= {{}})
                   OR (status = 'in_flight' AND locked_until < {{}})) {only}
                ORDER BY available_at, id
                LIMIT {{}} {lock})
        RETURNING id, topic, payload, attempts, referral
        """,  # noqa: S608 - only constants and placeholders are interpolated
        worker,
        now + lease,
        now,
        now,
        *(topics or []),
        limit,
    )
    return [
        Claimed(
            id=r["id"],
            topic=r["topic"],
            payload=msgspec.json.decode(r["payload"]),
            attempts=r["attempts"],
            referral=r["referral"],
        )
        for r in sorted(rows, key=lambda r: r["id"])
    ]


async def finish(
    message_id: int, *, worker: str, status: str, now: datetime, error: str | None = None
) -> bool:
    """Record the outcome, only if this worker still holds the message."""
    rows = await sql.run(
        """
        UPDATE "outbox" SET status = {}, done_at = {}, last_error = {},
               locked_by = NULL, locked_until = NULL
         WHERE id = {} AND locked_by = {} AND status = 'in_flight'
        RETURNING id
        """,
        status,
        now,
        error,
        message_id,
        worker,
    )
    return bool(rows)


async def retry_later(message_id: int, *, worker: str, at: datetime, error: str) -> bool:
    rows = await sql.run(
        """
        UPDATE "outbox" SET status = 'pending', available_at = {}, last_error = {},
               locked_by = NULL, locked_until = NULL
         WHERE id = {} AND locked_by = {} AND status = 'in_flight'
        RETURNING id
        """,
        at,
        error,
        message_id,
        worker,
    )
    return bool(rows)


async def release_held(*, worker: str) -> int:
    """Hand back every message `worker` holds, due now: for a worker that lost the
    database mid-batch and does not know which outcomes were recorded. A message it had
    already delivered goes out again, as after an expired lease."""
    rows = await sql.run(
        """
        UPDATE "outbox" SET status = 'pending', locked_by = NULL, locked_until = NULL
         WHERE locked_by = {} AND status = 'in_flight'
        RETURNING id
        """,
        worker,
    )
    return len(rows)


async def count_by_status() -> dict[str, int]:
    rows = await sql.run('SELECT status, COUNT(*) AS n FROM "outbox" GROUP BY status')
    return {r["status"]: r["n"] for r in rows}


async def of_topic(topic: str) -> list[OutboxRow]:
    rows = await Outbox.select().where(Outbox.topic == topic).order_by(Outbox.id)
    return [typed({**r, "payload": json_object(r["payload"])}, OutboxRow) for r in rows]


class Timer(msgspec.Struct, frozen=True, kw_only=True):
    """An outbox message due at a moment, named by its dedupe key (see keep_timers)."""

    topic: str
    dedupe_key: str
    payload: dict[str, Any]
    at: datetime


def pending_timers_query(n_topics: int) -> str:
    """A referral's pending messages of n topics (answered from outbox_pending_by_referral)."""
    marks = ", ".join("{}" for _ in range(n_topics))
    return (
        f'SELECT dedupe_key FROM "outbox" WHERE referral = {{}} AND topic IN ({marks}) '  # noqa: S608
        "AND status = 'pending'"
    )


async def keep_timers(
    referral_id: UUID, pending: set[str], wanted: list[Timer], now: datetime
) -> None:
    """Make a referral's pending timers (`pending`: their dedupe keys, read with
    `pending_timers_query`) exactly `wanted`: one statement to cancel those no longer
    wanted and one to add the missing ones (a cancelled timer comes back; one that
    fired stays fired)."""
    await cancel(sorted(pending - {t.dedupe_key for t in wanted}), now)
    missing = [t for t in wanted if t.dedupe_key not in pending]
    if not missing:
        return
    values = ", ".join("({}, {}, {}, {}, 'pending', {}, 0, {})" for _ in missing)
    args: list[Any] = []
    for t in missing:
        payload = msgspec.json.encode(t.payload).decode()
        args += [t.topic, t.dedupe_key, referral_id, payload, max(t.at, now), now]
    await sql.run(
        f"""
        INSERT INTO "outbox" ("topic", "dedupe_key", "referral", "payload", "status",
                              "available_at", "attempts", "created_at")
        VALUES {values}
        ON CONFLICT ("dedupe_key") DO UPDATE
           SET "status" = 'pending', "available_at" = excluded."available_at",
               "payload" = excluded."payload"
         WHERE "outbox"."status" = 'cancelled'
        """,  # noqa: S608 - only placeholders are interpolated
        *args,
    )


async def cancel(dedupe_keys: list[str], now: datetime) -> None:
    """Withdraw messages not yet taken by a worker (a timer whose reason is gone)."""
    if dedupe_keys:
        marks = ", ".join("{}" for _ in dedupe_keys)
        await sql.run(
            f"UPDATE \"outbox\" SET status = 'cancelled', done_at = {{}} "  # noqa: S608
            f"WHERE dedupe_key IN ({marks}) AND status = 'pending'",
            now,
            *dedupe_keys,
        )


async def finish_many(
    message_ids: list[int], *, worker: str, status: str, now: datetime, error: str | None = None
) -> int:
    """finish() for many messages with the same outcome, in one statement."""
    if not message_ids:
        return 0
    marks = ", ".join("{}" for _ in message_ids)
    rows = await sql.run(
        f"""
        UPDATE "outbox" SET status = {{}}, done_at = {{}}, last_error = {{}},
               locked_by = NULL, locked_until = NULL
         WHERE id IN ({marks}) AND locked_by = {{}} AND status = 'in_flight'
        RETURNING id
        """,  # noqa: S608 - only placeholders are interpolated
        status,
        now,
        error,
        *message_ids,
        worker,
    )
    return len(rows)


async def next_due(topics: list[str] | None = None) -> datetime | None:
    """When the earliest pending message (of these topics) is due: for a clock stepped
    through time (the demo)."""
    query = Outbox.select(Outbox.available_at).where(Outbox.status == "pending")
    if topics is not None:
        query = query.where(Outbox.topic.is_in(topics or [""]))
    row = await query.order_by(Outbox.available_at).first()
    return row["available_at"] if row else None

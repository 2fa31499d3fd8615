"""The ledger: append an event once per (source, idempotency key); read a referral's events."""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from backend.domain.events import Body, Event, Side, Source, body_decoder, kind_of, side_of
from backend.store import questions, sql
from backend.store.engine import is_postgres
from backend.store.tables import Event as EventRow


def encode_body(body: Body) -> str:
    """The payload column holds the whole tagged body; `kind` repeats the tag for queries."""
    return msgspec.json.encode(body).decode()


def _to_event(row: dict[str, Any]) -> Event:
    return Event(
        id=row["id"],
        referral_id=row["referral"],
        source=Source(row["source"]),
        side=Side(row["side"]),
        actor=row["actor"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        idempotency_key=row["idempotency_key"],
        body=body_decoder.decode(row["payload"]),
    )


_COLUMNS = (
    EventRow.id,
    EventRow.referral,
    EventRow.kind,
    EventRow.source,
    EventRow.side,
    EventRow.actor,
    EventRow.occurred_at,
    EventRow.recorded_at,
    EventRow.idempotency_key,
    EventRow.payload,
)


async def append(
    *,
    referral_id: UUID,
    body: Body,
    source: Source,
    actor: str,
    occurred_at: datetime,
    recorded_at: datetime,
    idempotency_key: str,
    answers: tuple[UUID, str] | None = None,
) -> Event | None:
    """Append one event; None if this (source, key) is already in the ledger.
    `answers`: the question the event answers, and the answer, marked answered with it
    (store.questions.mark_answered), in the same statement on PostgreSQL."""
    insert = (
        'INSERT INTO "event" (referral, kind, source, side, actor, occurred_at, recorded_at, '
        "idempotency_key, payload) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}) "
        "ON CONFLICT (source, idempotency_key) DO NOTHING RETURNING id"
    )
    marking: list[Any] = []
    if answers is not None and is_postgres():
        # A repeated delivery inserts nothing, so `e` is empty and nothing is marked.
        mark = questions.MARK_ANSWERED_FROM_E
        insert = f"WITH e AS ({insert}), q AS ({mark}) SELECT id FROM e"  # noqa: S608 (ours)
        marking = [answers[1], recorded_at, answers[0]]
    inserted = await sql.run(
        insert,
        referral_id,
        kind_of(body),
        source.value,
        side_of(source, body).value,
        actor,
        occurred_at,
        recorded_at,
        idempotency_key,
        encode_body(body),
        *marking,
    )
    if not inserted:
        return None
    if answers is not None and not marking:
        await questions.mark_answered(answers[0], answers[1], inserted[0]["id"], recorded_at)
    return Event(
        id=inserted[0]["id"],
        referral_id=referral_id,
        source=source,
        side=side_of(source, body),
        actor=actor,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        idempotency_key=idempotency_key,
        body=body,
    )


async def by_key(source: Source, idempotency_key: str) -> Event | None:
    rows = await EventRow.select(*_COLUMNS).where(
        (EventRow.source == source.value) & (EventRow.idempotency_key == idempotency_key)
    )
    return _to_event(rows[0]) if rows else None


EVENT_COLUMNS = (
    "id",
    "referral",
    "source",
    "side",
    "actor",
    "occurred_at",
    "recorded_at",
    "idempotency_key",
    "payload",
)
EVENTS_OF = f"SELECT {', '.join(EVENT_COLUMNS)} FROM event WHERE referral = {{}} ORDER BY id"  # noqa: S608

# The index on (referral, id) answers it without reading the ledger.
NEWEST_OF = "SELECT COALESCE(max(id), 0) AS newest FROM event WHERE referral = {}"


def events_from(rows: list[dict[str, Any]]) -> list[Event]:
    """Rows of EVENTS_OF as events, in ledger order."""
    return sorted((_to_event(r) for r in rows), key=lambda e: e.id)


async def events_of(referral_id: UUID) -> list[Event]:
    return events_from(await sql.run(EVENTS_OF, referral_id))


async def count() -> int:
    return await EventRow.count()


async def histories(clinic_ids: list[UUID] | None = None) -> dict[UUID, list[Event]]:
    """Every referral's events, for the given clinics (all when None), in ledger order."""
    query = EventRow.select(*_COLUMNS)
    if clinic_ids is not None:
        if not clinic_ids:
            return {}
        query = query.where(EventRow.referral.clinic.is_in(clinic_ids))
    grouped: dict[UUID, list[Event]] = {}
    for row in await query.order_by(EventRow.id):
        grouped.setdefault(row["referral"], []).append(_to_event(row))
    return grouped

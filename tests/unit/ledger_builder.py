"""Builds ledgers for domain tests: events with ids, sources and times filled in."""

from datetime import UTC, datetime, timedelta
from itertools import count
from uuid import UUID, uuid4

from backend.domain.events import Body, Event, Source, side_of

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLINIC = UUID(int=7)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class Ledger:
    def __init__(self, referral_id: UUID | None = None) -> None:
        self.referral_id = referral_id or uuid4()
        self.events: list[Event] = []
        self._ids = count(1)

    def add(
        self,
        body: Body,
        *,
        hours: float,
        source: Source = Source.clinic_panel,
        recorded_hours: float | None = None,
        key: str | None = None,
        actor: str = "test",
    ) -> Event:
        event_id = next(self._ids)
        event = Event(
            id=event_id,
            referral_id=self.referral_id,
            source=source,
            side=side_of(source, body),
            actor=actor,
            occurred_at=at(hours),
            recorded_at=at(recorded_hours if recorded_hours is not None else hours),
            idempotency_key=key or f"e{event_id}",
            body=body,
        )
        self.events.append(event)
        return event

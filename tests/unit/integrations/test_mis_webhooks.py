"""An MIS event (backend.domain.mis_events) as the claim the panel would record, and a
body that is no event said while the sender waits (backend.integrations.mis_webhooks)."""

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import msgspec

from backend.domain.claims import AppointmentCancelledIn, ContactedIn, PaymentIn
from backend.domain.mis_events import MisEvent
from backend.integrations import mis_webhooks

MSK = timezone(timedelta(hours=3))


def mis(kind: str, **data) -> MisEvent:
    body = {"type": kind, "timestamp": "2026-03-02T09:30:00+00:00", "data": data}
    return msgspec.convert(body, MisEvent)


def test_an_mis_event_is_the_claim_the_panel_would_record():
    rid = str(uuid4())
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    moved = mis("appointment.moved", referral_id=rid, appointment_at="2026-03-05T14:00:00Z")
    assert mis_webhooks.to_claim(moved) == ContactedIn(
        outcome="booked", appointment_at=datetime(2026, 3, 5, 14, tzinfo=UTC), occurred_at=at
    )
    paid = mis(
        "payment.received", referral_id=rid, amount=500_00, occurred_at="2026-03-01T10:00:00Z"
    )
    assert mis_webhooks.to_claim(paid) == PaymentIn(
        amount=500_00, occurred_at=datetime(2026, 3, 1, 10, tzinfo=UTC)
    )
    cancelled = mis("appointment.cancelled", referral_id=rid)
    assert mis_webhooks.to_claim(cancelled) == AppointmentCancelledIn(occurred_at=at)


def test_an_mis_body_that_is_no_event_is_said_while_the_sender_waits():
    adapter = mis_webhooks.MisWebhooks()
    event = {"type": "visit.happened", "timestamp": "2026-03-02T09:30:00Z"}
    body = msgspec.json.encode({**event, "data": {"referral_id": str(uuid4())}})
    assert adapter.check(body) is None
    problem = adapter.check(b'{"type": "visit.teleported", "timestamp": "x", "data": {}}')
    assert problem is not None and "type" in problem

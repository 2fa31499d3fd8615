"""A clinic's claim (backend.domain.claims) as the ledger's event body: the same step,
its time left to the statement."""

from datetime import UTC, datetime
from uuid import uuid4

import msgspec
import pytest

from backend.domain.claims import Claim, ClosedIn, ContactedIn, ItemDoneIn, to_event_body
from backend.domain.events import Closed, Contacted, ItemDone

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_a_claim_is_its_event_without_the_time():
    item = uuid4()
    assert to_event_body(ItemDoneIn(item_id=item, occurred_at=AT)) == ItemDone(item_id=item)
    assert to_event_body(ClosedIn(reason="переехал")) == Closed(reason="переехал")
    booked = to_event_body(ContactedIn(outcome="booked", appointment_at=AT, occurred_at=AT))
    assert isinstance(booked, Contacted) and booked.appointment_at == AT


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "payment", "amount": 0},
        {"kind": "closed"},
        {"kind": "received", "note": "extra"},
        {"kind": "contacted", "outcome": "maybe"},
    ],
)
def test_a_claim_the_ledger_could_not_take_is_refused_as_it_is_read(body):
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(body, Claim)

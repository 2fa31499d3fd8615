"""Clinic claims as every door sends them: the panel, its API, the MIS webhooks, a CRM's
stage map. One tagged body per funnel step, each with an optional `occurred_at`; as a
ledger event body it is the same step without the time (`to_event_body`)."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.domain.events import EventBody

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class ClaimIn(msgspec.Struct, tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    occurred_at: datetime | None = None  # when it happened; now if not given


class ReceivedIn(ClaimIn, tag="received"):
    pass


class ContactedIn(ClaimIn, tag="contacted"):
    outcome: Literal["booked", "declined", "unreachable"]
    appointment_at: datetime | None = None  # required for booked
    reason: Reason | None = None  # for declined


class AppointmentCancelledIn(ClaimIn, tag="appointment_cancelled"):
    reason: Reason | None = None


class VisitedIn(ClaimIn, tag="visited"):
    pass


class NoShowIn(ClaimIn, tag="no_show"):
    pass


class ItemDoneIn(ClaimIn, tag="item_done"):
    item_id: UUID


class PaymentIn(ClaimIn, tag="payment"):
    amount: Annotated[int, msgspec.Meta(gt=0, le=100_000_000_00, description="minor units")]


class CompletedIn(ClaimIn, tag="completed"):
    pass


class ClosedIn(ClaimIn, tag="closed"):
    reason: Reason


Claim = (
    ReceivedIn
    | ContactedIn
    | AppointmentCancelledIn
    | VisitedIn
    | NoShowIn
    | ItemDoneIn
    | PaymentIn
    | CompletedIn
    | ClosedIn
)


def to_event_body(claim: Claim) -> EventBody:
    data = msgspec.to_builtins(claim)
    data.pop("occurred_at", None)
    return msgspec.convert(data, EventBody)

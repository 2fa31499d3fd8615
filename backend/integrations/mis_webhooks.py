"""Medical information systems: typed events, signed per Standard Webhooks.

`POST /integrations/webhooks/{token}` with `webhook-id`, `webhook-timestamp` and
`webhook-signature` (HMAC-SHA256 over `id.timestamp.body`, key = the clinic's
`whsec_…` secret, 5 minutes' tolerance; verified by the `standardwebhooks` library).
The body is `{"type", "timestamp", "data"}`; `webhook-id` is the idempotency key: an
event re-sent with the same id is stored and recorded once. docs/mis-webhooks.md is the
vendors' guide.
"""

import base64
import secrets
from datetime import datetime
from typing import Annotated
from uuid import UUID

import httpx
import msgspec
from standardwebhooks import Webhook, WebhookVerificationError

from backend.domain.events import Source
from backend.integrations.base import Change, Connection, MalformedDelivery
from backend.services.claims import (
    AppointmentCancelledIn,
    Claim,
    ClosedIn,
    CompletedIn,
    ContactedIn,
    ItemDoneIn,
    NoShowIn,
    PaymentIn,
    VisitedIn,
)

MAX_ID = 150  # our idempotency keys hold it with the clinic id, in 200 characters
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class EventData(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    referral_id: Annotated[UUID, msgspec.Meta(description="plantrack's id of the referral")]
    occurred_at: Annotated[
        datetime | None,
        msgspec.Meta(description="when it happened in the clinic; the event's timestamp if absent"),
    ] = None


class AppointmentData(EventData, frozen=True):
    appointment_at: datetime


class CancelData(EventData, frozen=True):
    reason: Reason | None = None


class ItemData(EventData, frozen=True):
    item_id: Annotated[UUID, msgspec.Meta(description="the plan item's item_id")]


class PaymentData(EventData, frozen=True):
    amount: Annotated[
        int, msgspec.Meta(gt=0, le=100_000_000_00, description="minor units (kopecks)")
    ]


class CloseData(EventData, frozen=True):
    reason: Reason


class MisEventBase(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True
):
    timestamp: datetime  # when the MIS produced the event


class AppointmentBooked(MisEventBase, frozen=True, tag="appointment.booked"):
    data: AppointmentData


class AppointmentMoved(MisEventBase, frozen=True, tag="appointment.moved"):
    data: AppointmentData


class AppointmentCancelled(MisEventBase, frozen=True, tag="appointment.cancelled"):
    data: CancelData


class VisitHappened(MisEventBase, frozen=True, tag="visit.happened"):
    data: EventData


class VisitNoShow(MisEventBase, frozen=True, tag="visit.no_show"):
    data: EventData


class ItemDone(MisEventBase, frozen=True, tag="item.done"):
    data: ItemData


class PaymentReceived(MisEventBase, frozen=True, tag="payment.received"):
    data: PaymentData


class PlanCompleted(MisEventBase, frozen=True, tag="plan.completed"):
    data: EventData


class PlanClosed(MisEventBase, frozen=True, tag="plan.closed"):
    data: CloseData


MisEvent = (
    AppointmentBooked
    | AppointmentMoved
    | AppointmentCancelled
    | VisitHappened
    | VisitNoShow
    | ItemDone
    | PaymentReceived
    | PlanCompleted
    | PlanClosed
)

_decoder = msgspec.json.Decoder(MisEvent)


def decode(body: bytes) -> MisEvent:
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedDelivery(str(exc)) from exc


def to_claim(event: MisEvent) -> Claim:
    at = event.data.occurred_at or event.timestamp
    match event:
        case AppointmentBooked() | AppointmentMoved():
            # A move is a new booking: the ledger cancels the one it replaces.
            return ContactedIn(
                outcome="booked", appointment_at=event.data.appointment_at, occurred_at=at
            )
        case AppointmentCancelled():
            return AppointmentCancelledIn(reason=event.data.reason, occurred_at=at)
        case VisitHappened():
            return VisitedIn(occurred_at=at)
        case VisitNoShow():
            return NoShowIn(occurred_at=at)
        case ItemDone():
            return ItemDoneIn(item_id=event.data.item_id, occurred_at=at)
        case PaymentReceived():
            return PaymentIn(amount=event.data.amount, occurred_at=at)
        case PlanCompleted():
            return CompletedIn(occurred_at=at)
        case PlanClosed():
            return ClosedIn(reason=event.data.reason, occurred_at=at)
    raise AssertionError(event)


def new_secret() -> str:
    """A signing secret as the spec serialises it: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class MisWebhooks:
    system = "webhook"
    source = Source.mis_webhook

    def authenticate(self, conn: Connection, headers: dict[str, str], body: bytes) -> bool:
        try:
            Webhook(conn.secrets["signing_secret"]).verify(body, headers, json_parse=False)
        except (WebhookVerificationError, ValueError):
            # The library raises ValueError (binascii.Error) for a garbled signature entry.
            return False
        return len(headers.get("webhook-id", "")) <= MAX_ID

    def delivery_key(self, headers: dict[str, str], body: bytes) -> str | None:
        return headers.get("webhook-id")

    def check(self, body: bytes) -> str | None:
        """Why the body is not an event we know, checked as it arrives (the sender can
        fix it now); None if it is one."""
        try:
            decode(body)
        except MalformedDelivery as exc:
            return str(exc)
        return None

    async def changes(
        self, conn: Connection, headers: dict[str, str], body: bytes, http: httpx.AsyncClient
    ) -> list[Change]:
        event = decode(body)
        webhook_id = headers["webhook-id"]
        return [
            Change(
                external_id=None,
                referral_id=event.data.referral_id,
                claim=to_claim(event),
                key=f"{conn.clinic_id}:{webhook_id}",
                note=event.__struct_config__.tag,
            )
        ]

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

from backend.domain.crm_money import DraftLine, PlanDraft
from backend.domain.events import Source
from backend.domain.norms import Specialization
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


class ItemCancelData(ItemData, frozen=True):
    reason: Reason | None = None


class PlanLineData(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One procedure of the clinic's plan, as the referral card and the panel write it."""

    item_id: Annotated[
        UUID | None,
        msgspec.Meta(description="keep a line's item_id to say it is the same procedure"),
    ] = None
    specialization: Specialization
    price: Annotated[int, msgspec.Meta(ge=0, le=100_000_000_00, description="minor units")]
    title_ru: Annotated[str, msgspec.Meta(max_length=300)] = ""
    title_en: Annotated[str, msgspec.Meta(max_length=300)] = ""
    code: Annotated[str, msgspec.Meta(max_length=32)] = ""
    tooth: Annotated[int, msgspec.Meta(ge=11, le=85)] | None = None
    stage: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1
    variant: Annotated[str, msgspec.Meta(pattern="^[A-Z]$")] | None = None
    chair_minutes: Annotated[int, msgspec.Meta(ge=0, le=10_000)] | None = None
    course_days: Annotated[int, msgspec.Meta(ge=0, le=2_000)] | None = None


class PlanData(EventData, frozen=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    items: Annotated[list[PlanLineData], msgspec.Meta(min_length=1, max_length=200)]
    chosen_variant: Annotated[str, msgspec.Meta(pattern="^[A-Z]$")] | None = None


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


class PlanRevised(MisEventBase, frozen=True, tag="plan.revised"):
    """The clinic's plan as the MIS holds it: a new version beside the estimate."""

    data: PlanData


class ItemCancelled(MisEventBase, frozen=True, tag="item.cancelled"):
    """A procedure the MIS reported done is cancelled (a storno): not done after all."""

    data: ItemCancelData


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
    | PlanRevised
    | ItemCancelled
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
    raise AssertionError(event)  # plan.revised, item.cancelled: no claim (see changes)


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
        key = f"{conn.clinic_id}:{webhook_id}"
        at = event.data.occurred_at or event.timestamp
        tag = event.__struct_config__.tag
        if isinstance(event, PlanRevised):
            draft = PlanDraft(
                lines=tuple(
                    DraftLine(
                        item_id=line.item_id,
                        specialization=str(line.specialization),
                        price=line.price,
                        code=line.code,
                        title_ru=line.title_ru,
                        title_en=line.title_en,
                        tooth=line.tooth,
                        stage=line.stage,
                        variant=line.variant,
                        chair_minutes=line.chair_minutes,
                        course_days=line.course_days,
                    )
                    for line in event.data.items
                ),
                reason=event.data.reason,
                chosen_variant=event.data.chosen_variant,
            )
            return [
                Change(
                    external_id=None,
                    referral_id=event.data.referral_id,
                    plan=draft,
                    key=key,
                    at=at,
                    note=tag,
                )
            ]
        if isinstance(event, ItemCancelled):
            return [
                Change(
                    external_id=None,
                    referral_id=event.data.referral_id,
                    cancel_item=event.data.item_id,
                    key=key,
                    at=at,
                    note=event.data.reason,
                )
            ]
        return [
            Change(
                external_id=None,
                referral_id=event.data.referral_id,
                claim=to_claim(event),
                key=f"{conn.clinic_id}:{webhook_id}",
                note=event.__struct_config__.tag,
            )
        ]

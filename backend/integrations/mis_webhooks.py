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
from collections.abc import Callable, Mapping
from typing import ClassVar

import httpx
import msgspec
from standardwebhooks import Webhook, WebhookVerificationError

from backend.domain.claims import (
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
from backend.domain.crm_money import DraftLine, PlanDraft
from backend.domain.events import Source
from backend.domain.mis_events import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentMoved,
    ItemCancelled,
    ItemDone,
    MisEvent,
    PaymentReceived,
    PlanClosed,
    PlanCompleted,
    PlanRevised,
    VisitHappened,
    VisitNoShow,
)
from backend.integrations.base import Adapter, Change, Connection, MalformedDelivery

MAX_ID = 150  # our idempotency keys hold it with the clinic id, in 200 characters
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


class MisWebhooks(Adapter):
    system = "webhook"
    source = Source.mis_webhook
    path = "webhooks"
    generated: ClassVar[Mapping[str, Callable[[], str]]] = {"signing_secret": new_secret}

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

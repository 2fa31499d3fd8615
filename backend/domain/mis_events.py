"""The events a medical information system sends plantrack (docs/mis-webhooks.md): one
tagged body per thing that happened in the clinic, about one referral."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from backend.domain.norms import Specialization
from backend.domain.teeth import Tooth

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


Price = Annotated[int, msgspec.Meta(ge=0, le=100_000_000_00, description="minor units")]


class PlanLineData(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One procedure of the clinic's plan, as the referral card and the panel write it."""

    item_id: Annotated[
        UUID | None,
        msgspec.Meta(description="keep a line's item_id to say it is the same procedure"),
    ] = None
    specialization: Specialization
    price: Price
    title_ru: Annotated[str, msgspec.Meta(max_length=300)] = ""
    title_en: Annotated[str, msgspec.Meta(max_length=300)] = ""
    code: Annotated[str, msgspec.Meta(max_length=32)] = ""
    tooth: Tooth | None = None
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

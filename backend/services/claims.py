"""Clinic claims as every door sends them: the panel, its API, the MIS webhooks.

One tagged body per funnel step, each with an optional `occurred_at`; the service
turns it into the ledger's event body and records it through the one door.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.domain.events import Correction, EventBody, Source
from backend.runtime.clock import utcnow
from backend.services.recording import Recorded, Statement, record

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


async def record_clinic_claim(
    referral_id: UUID,
    claim: Claim,
    *,
    source: Source,
    actor: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Whichever door a clinic's statement came through, it is recorded the same way."""
    return await record(
        referral_id,
        Statement(
            body=to_event_body(claim),
            source=source,
            actor=actor,
            idempotency_key=idempotency_key,
            occurred_at=claim.occurred_at,
        ),
        now=now or utcnow(),
    )


async def record_clinic_correction(
    referral_id: UUID,
    *,
    retracts: int,
    reason: str,
    source: Source,
    actor: str,
    idempotency_key: str | None = None,
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> Recorded:
    """A clinic's system takes back one of the clinic's own claims — a payment its CRM
    lowered, a product row removed, a procedure its MIS cancelled — by the same door as
    every claim; the ledger keeps both, the fold applies the correction to the past."""
    return await record(
        referral_id,
        Statement(
            body=Correction(retracts=retracts, reason=reason[:500]),
            source=source,
            actor=actor,
            idempotency_key=idempotency_key,
            occurred_at=occurred_at,
        ),
        now=now or utcnow(),
    )

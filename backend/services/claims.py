"""Recording a clinic's claims (backend.domain.claims), whichever door they came
through — the panel, its API, the MIS webhooks, a CRM — and its corrections, by the one
door of the ledger."""

from datetime import datetime
from uuid import UUID

from backend.domain.claims import Claim, to_event_body
from backend.domain.events import Correction, Source
from backend.runtime.clock import utcnow
from backend.services.recording import Recorded, Statement, record


async def record_clinic_claim(
    referral_id: UUID,
    claim: Claim,
    *,
    source: Source,
    actor: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    clinic_id: UUID | None = None,
) -> Recorded:
    """Whichever door a clinic's statement came through, it is recorded the same way
    (`clinic_id`: the clinic the referral must be of, for its staff)."""
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
        clinic_id=clinic_id,
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

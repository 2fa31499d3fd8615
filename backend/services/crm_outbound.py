"""New referrals into the clinic's CRM: announced in the sender's transaction, pushed by
the worker as a deal or lead, linked to it so what the CRM says later finds the referral."""

from datetime import datetime
from uuid import UUID

import httpx

from backend.integrations.adapters import ADAPTERS, CRMS
from backend.integrations.base import CrmRejected, CrmUnavailable, OutboundReferral
from backend.runtime.clock import utcnow
from backend.services.connections import connection, crm_call_failed
from backend.store import integrations as store
from backend.store import outbox, parties, referrals
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome
from backend.store.rows import ReferralRow

OUTBOUND = "crm.outbound"  # the outbox topic: {"referral_id": …}


async def announce_referral(referral_id: UUID, clinic_id: UUID, now: datetime) -> None:
    """In the sender's transaction: a referral to a CRM clinic goes out by the outbox."""
    row = await store.of_clinic(clinic_id)
    if row is None or row.system not in CRMS:
        return
    await outbox.enqueue(
        topic=OUTBOUND,
        payload={"referral_id": str(referral_id)},
        now=now,
        dedupe_key=f"crm.outbound:{referral_id}",
        referral_id=referral_id,
    )


async def push_referral(
    referral_id: UUID,
    http: httpx.AsyncClient,
    *,
    secret_key: str,
    last_try: bool = False,
    now: datetime | None = None,
) -> Outcome:
    now = now or utcnow()
    referral = await referrals.get(referral_id)
    if referral is None:
        return Outcome(status="failed", detail="no such referral")
    row = await store.of_clinic(referral.clinic)
    if row is None or row.system not in CRMS:
        return Outcome(status="done", detail="the clinic has no CRM now")
    if await store.external_id_of(referral_id, row.system) is not None:
        return Outcome(status="done")
    conn = await connection(row, secret_key)
    try:
        external_id = await ADAPTERS[row.system].push_referral(
            conn, await _outbound(referral), http
        )
    except (CrmUnavailable, CrmRejected) as exc:
        return crm_call_failed(exc, last_try=last_try)
    async with write_transaction():
        await store.link(
            clinic_id=conn.clinic_id,
            system=conn.system,
            external_id=external_id,
            referral_id=referral_id,
            now=now,
        )
    return Outcome(status="done")


async def _outbound(referral: ReferralRow) -> OutboundReferral:
    patient = await parties.patient(referral.patient)
    assert patient is not None
    titles = (await store.estimate_titles([referral.id])).get(referral.id, [])
    return OutboundReferral(
        referral_id=referral.id,
        invite_code=referral.invite_code,
        patient_name=patient.name,
        patient_phone=patient.phone,
        estimated_amount=referral.estimated_amount,
        currency=referral.currency,
        summary="; ".join(titles),
    )

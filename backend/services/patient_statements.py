"""What a patient says on their own: how the clinic got in touch, an answer to an
appointment, a report of what happened, a fiscal receipt. Each is an event in the
ledger beside the clinic's claims, never an overwrite of them."""

from datetime import date, datetime
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.events import (
    AppointmentResponse,
    ContactRating,
    PatientReport,
    ReceiptAttached,
    Source,
    VariantChosen,
)
from backend.domain.funnel import fold_referral
from backend.domain.receipts import BadReceipt, ReceiptMatch, match_receipt, parse_receipt_qr
from backend.runtime.clock import utcnow
from backend.services.answers import say, when_called
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.recording import Recorded
from backend.store import contact_ratings, ledger, referrals
from backend.store.engine import write_transaction
from backend.store.rows import LockedReferral


async def _locked_own(patient_id: UUID, referral_id: UUID) -> LockedReferral:
    row = await referrals.lock(referral_id)
    if row is None or row.patient != patient_id:
        raise NotFound("no such referral")
    return row


async def rate_contact(
    patient_id: UUID,
    referral_id: UUID,
    *,
    called: bool,
    stars: int | None,
    comment: str,
    called_on: Literal["today", "yesterday", "earlier"] | None = None,
    called_at: datetime | None = None,
    called_day: date | None = None,
    now: datetime | None = None,
    source: Source = Source.patient_app,
) -> Recorded:
    """One rating per referral; a new one replaces the shown one, the ledger keeps all.
    With `called`, the patient may say when the call came (called_on or called_at)."""
    now = now or utcnow()
    when = await when_called(patient_id, called_on, called_at, now, called_day)
    if when and not called:
        raise Invalid("called_on and called_at go only with called: true")
    async with write_transaction():
        referral = await _locked_own(patient_id, referral_id)
        recorded = await say(
            patient_id,
            referral,
            ContactRating(called=called, stars=stars, comment=comment, **when),
            now,
            source=source,
        )
        await contact_ratings.save(
            referral_id,
            called=called,
            stars=stars,
            comment=comment,
            event_id=recorded.event.id,
            now=now,
        )
    return recorded


async def respond_to_appointment(
    patient_id: UUID,
    appointment_id: UUID,
    *,
    response: Literal["confirm", "decline", "reschedule"],
    note: str | None,
    now: datetime | None = None,
    source: Source = Source.patient_app,
) -> Recorded:
    now = now or utcnow()
    async with write_transaction():
        referral_id = await referrals.referral_of_appointment(appointment_id)
        if referral_id is None:
            raise NotFound("no such appointment")
        referral = await _locked_own(patient_id, referral_id)
        fold = fold_referral(await ledger.events_of(referral_id))
        appointment = next((a for a in fold.appointments if a.id == appointment_id), None)
        if appointment is None or appointment.status != "booked":
            raise Conflict("this appointment is no longer booked")
        return await say(
            patient_id,
            referral,
            AppointmentResponse(appointment_id=appointment_id, response=response, note=note),
            now,
            source=source,
        )


async def report(
    patient_id: UUID,
    referral_id: UUID,
    *,
    about: Literal["contacted", "booked", "visited", "stopped"],
    occurred_at: datetime | None,
    appointment_at: datetime | None,
    note: str | None,
    now: datetime | None = None,
) -> Recorded:
    now = now or utcnow()
    async with write_transaction():
        referral = await _locked_own(patient_id, referral_id)
        return await say(
            patient_id,
            referral,
            PatientReport(about=about, appointment_at=appointment_at, note=note),
            now,
            occurred_at=occurred_at,
        )


async def choose_variant(
    patient_id: UUID,
    referral_id: UUID,
    *,
    variant: str,
    source: Source = Source.patient_app,
    now: datetime | None = None,
) -> Recorded:
    """The patient's choice of a variant: it counts from now on (progress, money, the
    clinic's card). Choosing again after the clinic changed the plan agrees with it."""
    now = now or utcnow()
    async with write_transaction():
        referral = await _locked_own(patient_id, referral_id)
        fold = fold_referral(await ledger.events_of(referral_id))
        version = fold.plan.version if fold.plan else 0
        chosen = VariantChosen(variant=variant, version=version)
        return await say(patient_id, referral, chosen, now, source=source)


class ReceiptResult(msgspec.Struct, frozen=True, kw_only=True):
    recorded: Recorded
    amount: int
    issued_at: datetime
    match: ReceiptMatch


async def attach_receipt(
    patient_id: UUID, referral_id: UUID, *, qr: str, now: datetime | None = None
) -> ReceiptResult:
    """Parse the receipt QR, keep it as evidence, and say which reported payment it backs.
    The same receipt twice is one piece of evidence (its fiscal ids are the key)."""
    now = now or utcnow()
    async with write_transaction():
        referral = await _locked_own(patient_id, referral_id)
        try:
            receipt = parse_receipt_qr(qr, ZoneInfo(referral.clinic_timezone))
        except BadReceipt as exc:
            raise Invalid(str(exc)) from exc
        if receipt.issued_at > now:
            raise Invalid("the receipt's time is in the future")
        recorded = await say(
            patient_id,
            referral,
            ReceiptAttached(
                amount=receipt.amount,
                issued_at=receipt.issued_at,
                fn=receipt.fn,
                fd=receipt.fd,
                fp=receipt.fp,
            ),
            now,
            key=f"receipt:{receipt.fn}:{receipt.fd}:{receipt.fp}",
            occurred_at=receipt.issued_at,
        )
        match = match_receipt(receipt, recorded.fold.payments)
    return ReceiptResult(
        recorded=recorded, amount=receipt.amount, issued_at=receipt.issued_at, match=match
    )

"""The SMS log: each message decided for a patient, its state, and what the vendor said;
the counts the weekly allowance and the reports read; the mark on a refused number."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.store.rows import AppointmentRow, SmsMessageRow, SmsTotal, typed
from backend.store.tables import Appointment, Patient, Referral, SmsMessage

# Messages that went out, or are on their way: the weekly allowance counts these.
SPENT = ("queued", "sending", "sent", "logged")


async def insert(
    *,
    message_id: UUID,
    source_key: str,
    patient_id: UUID,
    referral_id: UUID | None,
    kind: str,
    urgent: bool,
    planned_at: datetime,
    now: datetime,
    status: str = "queued",
    reason: str | None = None,
    question_id: UUID | None = None,
    appointment_id: UUID | None = None,
    code_id: UUID | None = None,
) -> bool:
    """Add a message; one per source key (a notification, a code): False if it exists."""
    rows = await SmsMessage.raw(
        'INSERT INTO "sms_message" ("id", "source_key", "patient", "referral", "kind", '
        '"question", "appointment", "code", "urgent", "status", "reason", "planned_at", '
        '"parts", "attempts", "created_at") '
        "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 0, 0, {}) "
        'ON CONFLICT ("source_key") DO NOTHING RETURNING "id"',
        message_id,
        source_key,
        patient_id,
        referral_id,
        kind,
        question_id,
        appointment_id,
        code_id,
        urgent,
        status,
        reason,
        planned_at,
        now,
    )
    return bool(rows)


async def get(message_id: UUID) -> SmsMessageRow | None:
    row = await SmsMessage.select().where(SmsMessage.id == message_id).first()
    return None if row is None else typed(row, SmsMessageRow)


async def spent_since(patient_id: UUID, since: datetime, *, kinds: tuple[str, ...]) -> int:
    return await SmsMessage.count().where(
        (SmsMessage.patient == patient_id)
        & (SmsMessage.planned_at > since)
        & SmsMessage.status.is_in(list(SPENT))
        & SmsMessage.kind.is_in(list(kinds))
    )


async def recent_about(referral_id: UUID, since: datetime, *, kind: str) -> int:
    return await SmsMessage.count().where(
        (SmsMessage.referral == referral_id)
        & (SmsMessage.planned_at > since)
        & (SmsMessage.kind == kind)
        & SmsMessage.status.is_in(list(SPENT))
    )


async def start_sending(message_id: UUID, *, link_id: UUID | None, parts: int) -> bool:
    """Mark a message as being sent, once the text is made; False if it went out already
    (a worker that died after sending, whose message came back to another)."""
    rows = await SmsMessage.raw(
        'UPDATE "sms_message" SET "status" = \'sending\', "link" = {}, "parts" = {}, '
        '"attempts" = "attempts" + 1 WHERE "id" = {} AND "status" IN (\'queued\', \'sending\') '
        'RETURNING "id"',
        link_id,
        parts,
        message_id,
    )
    return bool(rows)


async def finish(
    message_id: UUID,
    *,
    status: str,
    now: datetime,
    reason: str | None = None,
    vendor_id: str | None = None,
) -> None:
    values: dict[Any, Any] = {SmsMessage.status: status, SmsMessage.reason: reason}
    if status in ("sent", "logged"):
        values |= {SmsMessage.sent_at: now, SmsMessage.vendor_id: vendor_id}
    await SmsMessage.update(values).where(SmsMessage.id == message_id)


async def back_to_queue(message_id: UUID, reason: str) -> None:
    """A try that did not go through (the vendor down, or busy): it waits for the next."""
    await SmsMessage.update({SmsMessage.status: "queued", SmsMessage.reason: reason}).where(
        (SmsMessage.id == message_id) & (SmsMessage.status == "sending")
    )


async def appointment(appointment_id: UUID | None) -> AppointmentRow | None:
    if appointment_id is None:
        return None
    row = await Appointment.select().where(Appointment.id == appointment_id).first()
    return None if row is None else typed(row, AppointmentRow)


async def block_number(patient_id: UUID, reason: str, now: datetime) -> None:
    await Patient.update(
        {Patient.sms_blocked_at: now, Patient.sms_blocked_reason: reason[:120]}
    ).where((Patient.id == patient_id) & Patient.sms_blocked_at.is_null())


async def of_patient(patient_id: UUID) -> list[SmsMessageRow]:
    rows = (
        await SmsMessage.select()
        .where(SmsMessage.patient == patient_id)
        .order_by(SmsMessage.planned_at)
    )
    return [typed(r, SmsMessageRow) for r in rows]


async def totals() -> list[SmsTotal]:
    """Messages and billed parts by kind and status: what SMS cost (docs/sms.md)."""
    rows = await SmsMessage.raw(
        'SELECT "kind", "status", COUNT(*) AS "messages", COALESCE(SUM("parts"), 0) AS "parts" '
        'FROM "sms_message" GROUP BY "kind", "status" ORDER BY "kind", "status"'
    )
    return [typed(r, SmsTotal) for r in rows]


async def skip_reasons() -> list[SmsTotal]:
    """Skipped messages by kind and reason, the commonest first."""
    rows = await SmsMessage.raw(
        'SELECT "kind", "reason", COUNT(*) AS "messages" FROM "sms_message" '
        'WHERE "status" = \'skipped\' GROUP BY "kind", "reason" ORDER BY 3 DESC'
    )
    return [typed(r, SmsTotal) for r in rows]


async def without_the_app() -> dict[str, int]:
    """Referrals whose patients have no active app device, and the SMS (not codes) and
    billed parts that went to them: what SMS cost per referral where SMS is the channel."""
    rows = await SmsMessage.raw(
        'SELECT COUNT(*) AS "referrals", '
        '(SELECT COUNT(*) FROM "sms_message" m WHERE m."referral" IN ('
        ' SELECT r2."id" FROM "referral" r2 WHERE NOT EXISTS (SELECT 1 FROM "device" d'
        '  WHERE d."patient" = r2."patient" AND d."active"))'
        " AND m.\"status\" IN ('sent', 'logged') AND m.\"kind\" <> 'code') AS \"went\", "
        '(SELECT COALESCE(SUM(m."parts"), 0) FROM "sms_message" m WHERE m."referral" IN ('
        ' SELECT r2."id" FROM "referral" r2 WHERE NOT EXISTS (SELECT 1 FROM "device" d'
        '  WHERE d."patient" = r2."patient" AND d."active"))'
        " AND m.\"status\" IN ('sent', 'logged') AND m.\"kind\" <> 'code') AS \"parts\" "
        'FROM "referral" r WHERE NOT EXISTS (SELECT 1 FROM "device" d '
        'WHERE d."patient" = r."patient" AND d."active")'
    )
    return {k: int(v or 0) for k, v in rows[0].items()}


async def invite_went(referral_id: UUID) -> bool:
    return await SmsMessage.exists().where(
        (SmsMessage.source_key == f"invite:{referral_id}")
        & SmsMessage.status.is_in(["sent", "logged"])
    )


async def referral_count() -> int:
    return await Referral.count()

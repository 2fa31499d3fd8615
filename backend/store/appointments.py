"""Appointment rows, derived from the booking claims in the ledger."""

from datetime import datetime
from uuid import UUID

from backend.domain.funnel import Appointment
from backend.store import rows, sql
from backend.store.tables import Appointment as AppointmentRow

_COLUMNS = (
    "id",
    "referral",
    "starts_at",
    "status",
    "patient_status",
    "booked_event_id",
    "updated_at",
)


async def save_all(referral_id: UUID, appointments: tuple[Appointment, ...], now: datetime) -> None:
    """The referral's appointments as the fold has them, in one upsert."""
    if not appointments:
        return
    args: list[object] = []
    for a in appointments:
        args += [a.id, referral_id, a.starts_at, a.status, a.patient_status, a.booked_event_id, now]
    await sql.run(
        sql.insert("appointment", _COLUMNS, len(appointments))
        + " ON CONFLICT (id) DO UPDATE SET "
        + sql.excluded(_COLUMNS[2:]),
        *args,
    )


async def of_referral(referral_id: UUID) -> list[rows.AppointmentRow]:
    """A referral's appointments, earliest first."""
    found = (
        await AppointmentRow.select()
        .where(AppointmentRow.referral == referral_id)
        .order_by(AppointmentRow.starts_at)
    )
    return [rows.typed(r, rows.AppointmentRow) for r in found]

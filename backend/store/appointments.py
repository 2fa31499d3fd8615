"""Appointment rows, derived from the booking claims in the ledger."""

from datetime import datetime
from uuid import UUID

from backend.domain.funnel import Appointment
from backend.store import rows
from backend.store.tables import Appointment as AppointmentRow


async def save_all(referral_id: UUID, appointments: tuple[Appointment, ...], now: datetime) -> None:
    if not appointments:
        return
    rows = [
        AppointmentRow(
            id=a.id,
            referral=referral_id,
            starts_at=a.starts_at,
            status=a.status,
            patient_status=a.patient_status,
            booked_event_id=a.booked_event_id,
            updated_at=now,
        )
        for a in appointments
    ]
    await AppointmentRow.insert(*rows).on_conflict(
        target=(AppointmentRow.id,),
        action="DO UPDATE",
        values=(
            AppointmentRow.starts_at,
            AppointmentRow.status,
            AppointmentRow.patient_status,
            AppointmentRow.booked_event_id,
            AppointmentRow.updated_at,
        ),
    )


async def of_referral(referral_id: UUID) -> list[rows.AppointmentRow]:
    """A referral's appointments, earliest first."""
    found = (
        await AppointmentRow.select()
        .where(AppointmentRow.referral == referral_id)
        .order_by(AppointmentRow.starts_at)
    )
    return [rows.typed(r, rows.AppointmentRow) for r in found]

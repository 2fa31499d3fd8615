"""Clinics, patients and staff accounts."""

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.store import screens
from backend.store.engine import is_postgres
from backend.store.rows import ClinicRow, PatientRow, StaffRow, typed
from backend.store.tables import Clinic, Patient, StaffUser


async def insert_clinic(
    *,
    clinic_id: UUID,
    name: str,
    city: str,
    timezone: str,
    now: datetime,
    address: str = "",
    phone: str = "",
    district: str | None = None,
    delivery_channel: str = "panel",
    first_contact_sla_minutes: int | None = None,
) -> None:
    await Clinic.insert(
        Clinic(
            id=clinic_id,
            name=name,
            city=city,
            district=district,
            address=address,
            phone=phone,
            timezone=timezone,
            delivery_channel=delivery_channel,
            first_contact_sla_minutes=first_contact_sla_minutes,
            created_at=now,
        )
    )


async def clinic(clinic_id: UUID) -> ClinicRow | None:
    row = await Clinic.select().where(Clinic.id == clinic_id).first()
    return None if row is None else typed(row, ClinicRow)


async def patient_by_phone(phone: str) -> PatientRow | None:
    row = await Patient.select().where(Patient.phone == phone).first()
    return None if row is None else typed(row, PatientRow)


async def patient(patient_id: UUID) -> PatientRow | None:
    row = await Patient.select().where(Patient.id == patient_id).first()
    return None if row is None else typed(row, PatientRow)


async def patient_held(patient_id: UUID, *, exclusive: bool) -> PatientRow | None:
    """The patient row, held until the write transaction ends: exclusively by erasure,
    shared by writers that must not add personal data to an erased patient. SQLite's
    write transactions already run one at a time (BEGIN IMMEDIATE)."""
    if not is_postgres():
        return await patient(patient_id)
    query = _PATIENT_FOR_UPDATE if exclusive else _PATIENT_FOR_SHARE
    rows = await Patient.raw(query, patient_id)
    return typed(rows[0], PatientRow) if rows else None


_PATIENT_FOR_UPDATE = "SELECT * FROM patient WHERE id = {} FOR UPDATE"
_PATIENT_FOR_SHARE = "SELECT * FROM patient WHERE id = {} FOR SHARE"


def search_key(name: str, phone: str) -> str:
    return f"{name.casefold()} {''.join(ch for ch in phone if ch.isdigit())}"


async def insert_patient(
    *, patient_id: UUID, phone: str, name: str, locale: str, timezone: str, now: datetime
) -> None:
    await Patient.insert(
        Patient(
            id=patient_id,
            phone=phone,
            name=name,
            search_key=search_key(name, phone),
            locale=locale,
            timezone=timezone,
            created_at=now,
        )
    )


async def staff_by_email(email: str) -> StaffRow | None:
    row = await StaffUser.select().where(StaffUser.email == email).first()
    return None if row is None else typed(row, StaffRow)


async def insert_staff(
    *,
    staff_id: UUID,
    email: str,
    name: str,
    role: str,
    clinic_id: UUID | None,
    password_hash: str,
    totp_secret: str,
    now: datetime,
) -> None:
    await StaffUser.insert(
        StaffUser(
            id=staff_id,
            email=email,
            name=name,
            role=role,
            clinic=clinic_id,
            password_hash=password_hash,
            totp_secret=totp_secret,
            created_at=now,
        )
    )


async def patient_by_firebase_uid(uid: str) -> PatientRow | None:
    row = await Patient.select().where(Patient.firebase_uid == uid).first()
    return None if row is None else typed(row, PatientRow)


async def update_patient(patient_id: UUID, values: dict[str, Any]) -> None:
    """Update profile columns by name (the service decides which are allowed)."""
    columns = {getattr(Patient, name): value for name, value in values.items()}
    if "name" in values:
        row = await patient(patient_id)
        if row is not None:
            columns[Patient.search_key] = search_key(values["name"], row.phone)
    if columns:
        await Patient.update(columns).where(Patient.id == patient_id)


async def set_delivery_channel(clinic_id: UUID, channel: str) -> None:
    await Clinic.update({Clinic.delivery_channel: channel}).where(Clinic.id == clinic_id)


async def set_show_prices(clinic_id: UUID, shown: bool) -> None:
    await Clinic.update({Clinic.show_prices_to_patients: shown}).where(Clinic.id == clinic_id)
    await screens.outdate_all()  # prices show in its patients' screens


async def update_clinic(clinic_id: UUID, values: dict[str, Any]) -> None:
    """Update clinic columns by name (the service decides which are allowed)."""
    await Clinic.update({getattr(Clinic, name): v for name, v in values.items()}).where(
        Clinic.id == clinic_id
    )
    await screens.outdate_all()  # its name, address, phone show in its patients' screens


async def set_clinic_archived_at(clinic_id: UUID, at: datetime | None) -> None:
    await Clinic.update({Clinic.archived_at: at}).where(Clinic.id == clinic_id)
    await screens.outdate_all()


async def staff_names(staff_ids: list[UUID]) -> dict[UUID, str]:
    """Staff members' names (their e-mail when they have none), for lists of their work."""
    if not staff_ids:
        return {}
    rows = await StaffUser.select(StaffUser.id, StaffUser.name, StaffUser.email).where(
        StaffUser.id.is_in(staff_ids)
    )
    return {r["id"]: r["name"] or r["email"] for r in rows}

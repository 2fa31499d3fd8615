"""Patients' devices: FCM registration tokens, active or deactivated (never deleted)."""

from datetime import datetime
from uuid import UUID

from backend.runtime.ids import new_id
from backend.store.rows import DeviceRow, typed
from backend.store.tables import Device


async def register(
    *,
    patient_id: UUID,
    token: str,
    platform: str,
    app_version: str,
    locale: str,
    now: datetime,
    kind: str = "fcm_token",
) -> DeviceRow:
    """Register or refresh a token. A token seen on another account moves to this one:
    the phone changed hands, and pushes must follow the person now signed in."""
    await Device.insert(
        Device(
            id=new_id(),
            patient=patient_id,
            token=token,
            kind=kind,
            platform=platform,
            app_version=app_version,
            locale=locale,
            active=True,
            created_at=now,
            last_seen_at=now,
        )
    ).on_conflict(
        target=(Device.token,),
        action="DO UPDATE",
        values=(
            Device.patient,
            Device.kind,
            Device.platform,
            Device.app_version,
            Device.locale,
            Device.last_seen_at,
            (Device.active, True),
            (Device.deactivated_at, None),
            (Device.deactivated_reason, None),
        ),
    )
    row = await Device.select().where(Device.token == token).first()
    assert row is not None
    return typed(row, DeviceRow)


async def deactivate(*, patient_id: UUID, token: str, reason: str, now: datetime) -> bool:
    rows = await Device.raw(
        'UPDATE "device" SET "active" = {}, "deactivated_at" = {}, "deactivated_reason" = {} '
        'WHERE "token" = {} AND "patient" = {} RETURNING "id"',
        False,
        now,
        reason,
        token,
        patient_id,
    )
    return bool(rows)


async def active_for(patient_id: UUID) -> list[DeviceRow]:
    rows = await Device.select().where((Device.patient == patient_id) & (Device.active == True))  # noqa: E712
    return [typed(r, DeviceRow) for r in rows]


async def deactivate_by_id(device_id: UUID, *, reason: str, now: datetime) -> None:
    await Device.update(
        {Device.active: False, Device.deactivated_at: now, Device.deactivated_reason: reason}
    ).where((Device.id == device_id) & (Device.active == True))  # noqa: E712

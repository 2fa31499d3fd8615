"""The patient's own profile, notification preferences, quiet hours and devices."""

from datetime import time
from typing import Any, Literal
from uuid import UUID

import msgspec

from backend.runtime.clock import utcnow
from backend.services import changes
from backend.services.errors import NotFound
from backend.store import devices, parties, referrals
from backend.store.engine import write_transaction
from backend.store.rows import DeviceRow, PatientRow

DEFAULT_QUIET = (time(21, 0), time(9, 0))


class NotificationPrefs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    questions: bool = True  # verification questions ("did the clinic call?")
    reminders: bool = True  # appointment reminders
    news: bool = False


class QuietHours(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    start: time
    end: time


class ProfileChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Only these fields; anything else in the body is refused, not ignored."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    locale: Literal["ru", "en"] | msgspec.UnsetType = msgspec.UNSET
    notifications: NotificationPrefs | msgspec.UnsetType = msgspec.UNSET
    quiet_hours: QuietHours | msgspec.UnsetType = msgspec.UNSET


async def profile(patient_id: UUID) -> PatientRow:
    row = await parties.patient(patient_id)
    if row is None or row.erased_at is not None:
        raise NotFound("no such patient")
    return row


def prefs_of(row: PatientRow) -> NotificationPrefs:
    return prefs_from_json(row.notification_prefs)


def prefs_from_json(raw: str | None) -> NotificationPrefs:
    """The preferences as stored (JSON text; none stored yet: the defaults)."""
    return msgspec.json.decode(raw, type=NotificationPrefs) if raw else NotificationPrefs()


def quiet_of(row: PatientRow) -> QuietHours:
    start, end = row.quiet_hours_start, row.quiet_hours_end
    if start is None or end is None:
        start, end = DEFAULT_QUIET
    return QuietHours(start=start, end=end)


async def update_profile(patient_id: UUID, change: ProfileChange) -> PatientRow:
    values: dict[str, Any] = {}
    if change.name is not msgspec.UNSET:
        values["name"] = change.name.strip()
    if change.locale is not msgspec.UNSET:
        values["locale"] = change.locale
    if change.notifications is not msgspec.UNSET:
        values["notification_prefs"] = msgspec.json.encode(change.notifications).decode()
    if change.quiet_hours is not msgspec.UNSET:
        values["quiet_hours_start"] = change.quiet_hours.start
        values["quiet_hours_end"] = change.quiet_hours.end
    async with write_transaction():
        before = await profile(patient_id)
        await parties.update_patient(patient_id, values)
        if values.get("locale", before.locale) != before.locale:
            # Every screen reads differently in another language: the app fetches them
            # again, and the stored ones are rebuilt (backend.services.screens).
            referral_ids = await referrals.ids_of_patient(patient_id)
            noted = [(changes.REFERRAL, r, r) for r in referral_ids]
            await changes.note(patient_id, noted, utcnow())
    return await profile(patient_id)


async def register_device(
    patient_id: UUID,
    *,
    token: str,
    platform: str,
    app_version: str,
    locale: str,
    kind: str = "fcm_token",
) -> DeviceRow:
    async with write_transaction():
        return await devices.register(
            patient_id=patient_id,
            token=token,
            kind=kind,
            platform=platform,
            app_version=app_version,
            locale=locale,
            now=utcnow(),
        )


async def forget_device(patient_id: UUID, token: str) -> None:
    async with write_transaction():
        if not await devices.deactivate(
            patient_id=patient_id, token=token, reason="signed_out", now=utcnow()
        ):
            raise NotFound("no such device")

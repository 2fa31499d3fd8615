"""Staff alerts, who receives them, and the digests waiting for their morning."""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from backend.store.rows import AlertPerson, AlertRow, json_object, typed
from backend.store.tables import Clinic, StaffAlert, StaffAlertDigest, StaffUser


async def insert(
    *,
    dedupe_key: str,
    kind: str,
    clinic_id: UUID | None,
    referral_id: UUID | None,
    details: dict[str, Any],
    happened_at: datetime,
    now: datetime,
) -> int | None:
    """The new alert's id; None when this event was already raised."""
    rows = await StaffAlert.raw(
        """
        INSERT INTO "staff_alert" ("dedupe_key", "kind", "clinic", "referral", "details",
                                   "happened_at", "created_at")
        VALUES ({}, {}, {}, {}, {}, {}, {})
        ON CONFLICT ("dedupe_key") DO NOTHING
        RETURNING "id"
        """,
        dedupe_key,
        kind,
        clinic_id,
        referral_id,
        msgspec.json.encode(details).decode(),
        happened_at,
        now,
    )
    return rows[0]["id"] if rows else None


def _alert(row: dict[str, Any]) -> AlertRow:
    return typed({**row, "details": json_object(row["details"])}, AlertRow)


async def get(alert_id: int) -> AlertRow | None:
    row = await StaffAlert.select().where(StaffAlert.id == alert_id).first()
    return None if row is None else _alert(row)


async def many(alert_ids: list[int]) -> list[AlertRow]:
    if not alert_ids:
        return []
    rows = await StaffAlert.select().where(StaffAlert.id.is_in(alert_ids)).order_by(StaffAlert.id)
    return [_alert(r) for r in rows]


async def recent(
    *, clinic_id: UUID | None, kinds: list[str] | None, limit: int, before_id: int | None
) -> list[AlertRow]:
    """Newest first: a clinic's alerts, or every clinic's of the given kinds."""
    query = StaffAlert.select()
    if clinic_id is not None:
        query = query.where(StaffAlert.clinic == clinic_id)
    if kinds is not None:
        query = query.where(StaffAlert.kind.is_in(kinds))
    if before_id is not None:
        query = query.where(StaffAlert.id < before_id)
    rows = await query.order_by(StaffAlert.id, ascending=False).limit(limit)
    return [_alert(r) for r in rows]


_PERSON = (
    StaffUser.id,
    StaffUser.email,
    StaffUser.name,
    StaffUser.role,
    StaffUser.clinic,
    StaffUser.alert_prefs,
    StaffUser.archived_at,
)


def _person(row: dict[str, Any]) -> AlertPerson:
    return typed({**row, "alert_prefs": json_object(row["alert_prefs"])}, AlertPerson)


async def recipients(clinic_id: UUID | None, roles: list[str]) -> list[AlertPerson]:
    """Active staff of `roles` at the clinic, and the exchange's (no clinic) of `roles`."""
    if not roles:
        return []
    where = StaffUser.archived_at.is_null() & StaffUser.role.is_in(roles)
    if clinic_id is not None:
        where &= (StaffUser.clinic == clinic_id) | StaffUser.clinic.is_null()
    else:
        where &= StaffUser.clinic.is_null()
    return [_person(r) for r in await StaffUser.select(*_PERSON).where(where)]


async def staff(staff_id: UUID) -> AlertPerson | None:
    row = await StaffUser.select(*_PERSON).where(StaffUser.id == staff_id).first()
    return None if row is None else _person(row)


async def save_prefs(staff_id: UUID, prefs: dict[str, Any]) -> None:
    await StaffUser.update({StaffUser.alert_prefs: msgspec.json.encode(prefs).decode()}).where(
        StaffUser.id == staff_id
    )


async def clinic_zone(clinic_id: UUID | None) -> str | None:
    if clinic_id is None:
        return None
    row = await Clinic.select(Clinic.timezone).where(Clinic.id == clinic_id).first()
    return row["timezone"] if row else None


async def add_to_digest(staff_id: UUID, alert_id: int, now: datetime) -> None:
    await StaffAlertDigest.raw(
        """
        INSERT INTO "staff_alert_digest" ("staff", "alert", "created_at")
        VALUES ({}, {}, {}) ON CONFLICT ("staff", "alert") DO NOTHING
        """,
        staff_id,
        alert_id,
        now,
    )


async def waiting_digest(staff_id: UUID) -> list[int]:
    rows = await StaffAlertDigest.select(StaffAlertDigest.alert).where(
        (StaffAlertDigest.staff == staff_id) & StaffAlertDigest.sent_at.is_null()
    )
    return [r["alert"] for r in rows]


async def mark_digested(staff_id: UUID, alert_ids: list[int], now: datetime) -> None:
    if alert_ids:
        await StaffAlertDigest.update({StaffAlertDigest.sent_at: now}).where(
            (StaffAlertDigest.staff == staff_id)
            & StaffAlertDigest.alert.is_in(alert_ids)
            & StaffAlertDigest.sent_at.is_null()
        )

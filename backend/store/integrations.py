"""Integrations, the inbox of deliveries, links to CRM objects."""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from piccolo.columns.combination import Combination

from backend.runtime.ids import new_id
from backend.store import outbox
from backend.store.engine import is_postgres, write_transaction
from backend.store.rows import (
    DeliveryRow,
    FinishedDelivery,
    IntegrationRow,
    TicketRow,
    json_object,
    typed,
)
from backend.store.sql import marks
from backend.store.tables import (
    ExternalLink,
    Inbox,
    Integration,
    PlanItem,
    Referral,
)


async def upsert(
    *,
    clinic_id: UUID,
    system: str,
    token_hash: str,
    config: dict[str, Any],
    secrets: str,
    now: datetime,
) -> UUID:
    existing = (
        await Integration.select(Integration.id).where(Integration.clinic == clinic_id).first()
    )
    values = {
        Integration.system: system,
        Integration.inbound_token_hash: token_hash,
        Integration.config: msgspec.json.encode(config).decode(),
        Integration.secrets: secrets,
        Integration.updated_at: now,
        Integration.archived_at: None,
        Integration.version: Integration.version + 1,
    }
    if existing is not None:
        await Integration.update(values).where(Integration.id == existing["id"])
        return existing["id"]
    integration_id = new_id()
    await Integration.insert(
        Integration(
            id=integration_id,
            clinic=clinic_id,
            system=system,
            inbound_token_hash=token_hash,
            config=msgspec.json.encode(config).decode(),
            secrets=secrets,
            created_at=now,
            updated_at=now,
        )
    )
    return integration_id


def _decoded(row: dict[str, Any] | None) -> IntegrationRow | None:
    if row is None:
        return None
    return typed({**row, "config": json_object(row["config"])}, IntegrationRow)


def _select():
    """Integration rows with their clinic's time zone (CRM times without an offset are
    the clinic's local time), in one query."""
    return Integration.select(
        *Integration.all_columns(), Integration.clinic.timezone.as_alias("clinic_timezone")
    )


async def of_clinic(clinic_id: UUID) -> IntegrationRow | None:
    return _decoded(
        await _select()
        .where((Integration.clinic == clinic_id) & Integration.archived_at.is_null())
        .first()
    )


async def by_token_hash(token_hash: str) -> IntegrationRow | None:
    """Every delivery asks this first: written out (backend.store.sql's reason)."""
    rows = await Integration.raw(
        "SELECT i.id, i.clinic, i.system, i.inbound_token_hash, i.config, i.secrets, "
        "i.last_sync_at, i.created_at, i.updated_at, i.archived_at, i.version, "
        "c.timezone AS clinic_timezone "
        "FROM integration i JOIN clinic c ON c.id = i.clinic "
        "WHERE i.inbound_token_hash = {} AND i.archived_at IS NULL LIMIT 1",
        token_hash,
    )
    return _decoded(rows[0] if rows else None)


async def of_system(system: str) -> list[IntegrationRow]:
    rows = await _select().where((Integration.system == system) & Integration.archived_at.is_null())
    return [r for r in map(_decoded, rows) if r is not None]


async def save_secrets(integration_id: UUID, secrets: str, now: datetime) -> None:
    await Integration.update(
        {
            Integration.secrets: secrets,
            Integration.updated_at: now,
            Integration.version: Integration.version + 1,
        }
    ).where(Integration.id == integration_id)


async def mark_synced(integration_id: UUID, at: datetime) -> None:
    await Integration.update({Integration.last_sync_at: at}).where(Integration.id == integration_id)


async def store_delivery(
    *,
    clinic_id: UUID,
    system: str,
    headers: dict[str, str],
    body: str,
    now: datetime,
    delivery_key: str | None,
    status: str = "received",
    error: str | None = None,
) -> int | None:
    """The delivery's id, or None if this delivery key was stored before."""
    query = Inbox.insert(
        Inbox(
            clinic=clinic_id,
            system=system,
            received_at=now,
            headers=msgspec.json.encode(headers).decode(),
            body=body,
            status=status,
            delivery_key=delivery_key,
            error=error,
        )
    ).returning(Inbox.id)
    if delivery_key is not None:
        query = query.on_conflict(target=(Inbox.clinic, Inbox.delivery_key), action="DO NOTHING")
    rows = await query
    return rows[0]["id"] if rows else None


class KnownIntegration(msgspec.Struct, frozen=True):
    """The integration a delivery's sender was authenticated against, as it was read."""

    id: UUID
    token_hash: str
    version: int


class Received(msgspec.Struct, frozen=True):
    current: bool  # False: the integration has changed (or gone) since it was read
    delivery_id: int | None  # None: not written (changed, or a repeated delivery key)


# The delivery and its outbox message in one statement (PostgreSQL): no transaction to
# open and close around the ingest route's only write. It writes only while the
# integration is the one the sender was checked against (same token, same version, not
# archived), so a process that keeps integrations in memory learns of a rotation or a
# revocation here, on the very next delivery. A repeated delivery key inserts neither
# row and answers no id. INSERT … SELECT does not type its parameters by the target
# columns as VALUES does: hence the casts.
_RECEIVE = """
WITH live AS (
    SELECT 1 FROM integration
     WHERE id = {} AND inbound_token_hash = {} AND version = {} AND archived_at IS NULL
), d AS (
    INSERT INTO inbox (clinic, system, received_at, headers, body, status, delivery_key)
    SELECT {}::uuid, {}::varchar, {}::timestamptz, {}::jsonb, {}::text, 'received',
           {}::varchar
      FROM live
    ON CONFLICT (clinic, delivery_key) DO NOTHING
    RETURNING id
), o AS (
    INSERT INTO outbox (topic, dedupe_key, payload, status, available_at, attempts, created_at)
    SELECT {}, {} || d.id, jsonb_build_object('delivery_id', d.id), 'pending', {},
           0, {}
      FROM d
)
SELECT EXISTS (SELECT 1 FROM live) AS current, (SELECT id FROM d) AS id
"""


async def receive_delivery(
    *,
    integration: KnownIntegration,
    clinic_id: UUID,
    system: str,
    headers: dict[str, str],
    body: str,
    now: datetime,
    delivery_key: str | None,
    topic: str,
) -> Received:
    """Store a delivery with the outbox message that hands it to the worker (`topic`,
    payload {"delivery_id": id}, dedupe key "<topic>:<id>"), atomically, if `integration`
    is still as it was read; nothing is written for a repeated delivery key."""
    if not is_postgres():
        async with write_transaction():
            live = await Integration.exists().where(
                (Integration.id == integration.id)
                & (Integration.inbound_token_hash == integration.token_hash)
                & (Integration.version == integration.version)
                & Integration.archived_at.is_null()
            )
            if not live:
                return Received(current=False, delivery_id=None)
            delivery_id = await store_delivery(
                clinic_id=clinic_id,
                system=system,
                headers=headers,
                body=body,
                now=now,
                delivery_key=delivery_key,
            )
            if delivery_id is not None:
                await outbox.enqueue(
                    topic=topic,
                    payload={"delivery_id": delivery_id},
                    now=now,
                    dedupe_key=f"{topic}:{delivery_id}",
                )
        return Received(current=True, delivery_id=delivery_id)
    [row] = await Inbox.raw(
        _RECEIVE,
        integration.id,
        integration.token_hash,
        integration.version,
        clinic_id,
        system,
        now,
        msgspec.json.encode(headers).decode(),
        body,
        delivery_key,
        topic,
        f"{topic}:",
        now,
        now,
    )
    return Received(current=row["current"], delivery_id=row["id"])


def _delivery(row: dict[str, Any]) -> DeliveryRow:
    decoded = {"result": json_object(row["result"])}
    if "headers" in row:
        decoded["headers"] = json_object(row["headers"])
    return typed({**row, **decoded}, DeliveryRow)


async def delivery(inbox_id: int) -> DeliveryRow | None:
    row = await Inbox.select().where(Inbox.id == inbox_id).first()
    return None if row is None else _delivery(row)


async def deliveries_by_id(inbox_ids: list[int]) -> dict[int, DeliveryRow]:
    """Deliveries with their headers and bodies, by id (the worker's batch), in one read."""
    if not inbox_ids:
        return {}
    columns = "id, clinic, system, received_at, headers, body, status, delivery_key, error"
    query = f"SELECT {columns}, result, attempts, processed_at FROM inbox WHERE id IN "  # noqa: S608
    rows = await Inbox.raw(query + f"({marks(len(inbox_ids))})", *inbox_ids)
    return {r["id"]: _delivery(r) for r in rows}


# Every delivery of a batch finished in one statement (PostgreSQL): the values as arrays.
_FINISH_MANY = """
UPDATE inbox SET status = v.status, error = v.error, processed_at = {},
       result = CAST(v.result AS jsonb), attempts = inbox.attempts + 1
  FROM unnest(CAST({} AS bigint[]), CAST({} AS text[]), CAST({} AS text[]),
              CAST({} AS text[])) AS v(id, status, error, result)
 WHERE inbox.id = v.id
"""


async def finish_deliveries(done: list[FinishedDelivery], *, now: datetime) -> None:
    """Finish deliveries in the caller's transaction, each result encoded once here."""
    if not is_postgres():
        for delivery in done:
            await finish_delivery(delivery, now=now)
        return
    await Inbox.raw(
        _FINISH_MANY,
        now,
        [d.id for d in done],
        [d.status for d in done],
        [d.error for d in done],
        [msgspec.json.encode(d.result).decode() for d in done],
    )


async def finish_delivery(delivery: FinishedDelivery, *, now: datetime) -> None:
    await Inbox.update(
        {
            Inbox.status: delivery.status,
            Inbox.error: delivery.error,
            Inbox.processed_at: now,
            Inbox.result: msgspec.json.encode(delivery.result).decode(),
            Inbox.attempts: Inbox.attempts + 1,
        }
    ).where(Inbox.id == delivery.id)


async def deliveries(
    *, clinic_id: UUID | None, status: str | None, limit: int, before_id: int | None = None
) -> list[DeliveryRow]:
    query = Inbox.select(
        Inbox.id,
        Inbox.clinic,
        Inbox.system,
        Inbox.received_at,
        Inbox.status,
        Inbox.error,
        Inbox.delivery_key,
        Inbox.result,
        Inbox.attempts,
        Inbox.processed_at,
    )
    if clinic_id is not None:
        query = query.where(Inbox.clinic == clinic_id)
    if status:
        query = query.where(Inbox.status == status)
    if before_id is not None:
        query = query.where(Inbox.id < before_id)
    return [_delivery(r) for r in await query.order_by(Inbox.id, ascending=False).limit(limit)]


async def unknown_stages(clinic_id: UUID, limit: int = 50) -> list[str]:
    rows = (
        await Inbox.select(Inbox.result)
        .where((Inbox.clinic == clinic_id) & (Inbox.status == "unmapped"))
        .order_by(Inbox.id, ascending=False)
        .limit(500)
    )
    stages: list[str] = []
    for row in rows:
        for stage in json_object(row["result"]).get("unknown_stages", []):
            if stage not in stages:
                stages.append(stage)
    return stages[:limit]


async def link(
    *, clinic_id: UUID, system: str, external_id: str, referral_id: UUID, now: datetime
) -> None:
    await ExternalLink.insert(
        ExternalLink(
            id=new_id(),
            clinic=clinic_id,
            system=system,
            external_id=external_id,
            referral=referral_id,
            created_at=now,
        )
    ).on_conflict(
        target=(ExternalLink.clinic, ExternalLink.system, ExternalLink.external_id),
        action="DO NOTHING",
    )


def _the_link(clinic_id: UUID, system: str, external_id: str) -> Combination:
    """The link of a vendor's object (a deal, a lead) in a clinic's system."""
    return (
        (ExternalLink.clinic == clinic_id)
        & (ExternalLink.system == system)
        & (ExternalLink.external_id == external_id)
    )


async def linked_referral(clinic_id: UUID, system: str, external_id: str) -> UUID | None:
    where = _the_link(clinic_id, system, external_id)
    row = await ExternalLink.select(ExternalLink.referral).where(where).first()
    return row["referral"] if row else None


async def link_state(clinic_id: UUID, system: str, external_id: str) -> datetime | None:
    """The vendor's time of the object's state whose money was applied last."""
    where = _the_link(clinic_id, system, external_id)
    row = await ExternalLink.select(ExternalLink.state_at).where(where).first()
    return row["state_at"] if row else None


async def save_link_state(clinic_id: UUID, system: str, external_id: str, at: datetime) -> None:
    where = _the_link(clinic_id, system, external_id)
    await ExternalLink.update({ExternalLink.state_at: at}).where(where)


async def external_id_of(referral_id: UUID, system: str) -> str | None:
    row = (
        await ExternalLink.select(ExternalLink.external_id)
        .where((ExternalLink.referral == referral_id) & (ExternalLink.system == system))
        .first()
    )
    return row["external_id"] if row else None


async def integration(integration_id: UUID) -> IntegrationRow | None:
    return _decoded(await _select().where(Integration.id == integration_id).first())


async def failed_count(clinic_id: UUID) -> int:
    return await Inbox.count().where((Inbox.clinic == clinic_id) & (Inbox.status == "failed"))


async def requeue(inbox_id: int) -> None:
    await Inbox.update({Inbox.status: "received", Inbox.error: None}).where(Inbox.id == inbox_id)


async def note_waiting(inbox_id: int, error: str) -> None:
    """A delivery that will be tried again: why it waits (its status stays received)."""
    await Inbox.update({Inbox.error: error, Inbox.attempts: Inbox.attempts + 1}).where(
        Inbox.id == inbox_id
    )


async def ticket_rows(
    clinic_id: UUID, start: datetime | None, end: datetime | None, limit: int, offset: int
) -> list[TicketRow]:
    """A clinic's referrals sent in [start, end], oldest first, with the patient's contact."""
    query = Referral.select(
        Referral.id,
        Referral.sent_at,
        Referral.invite_code,
        Referral.estimated_amount,
        Referral.currency,
        Referral.step,
        Referral.patient.phone.as_alias("phone"),
        Referral.patient.name.as_alias("name"),
    ).where(
        (Referral.clinic == clinic_id)
        & Referral.archived_at.is_null()
        & Referral.patient.erased_at.is_null()
    )
    if start is not None:
        query = query.where(Referral.sent_at >= start)
    if end is not None:
        query = query.where(Referral.sent_at <= end)
    rows = await query.order_by(Referral.sent_at).order_by(Referral.id).offset(offset).limit(limit)
    return [typed(r, TicketRow) for r in rows]


async def estimate_titles(referral_ids: list[UUID]) -> dict[UUID, list[str]]:
    """The estimated plan's item titles (with the tooth) of each referral, in plan order."""
    if not referral_ids:
        return {}
    rows = (
        await PlanItem.select(
            PlanItem.plan.referral.as_alias("referral"), PlanItem.title_ru, PlanItem.tooth
        )
        .where(PlanItem.plan.referral.is_in(referral_ids) & (PlanItem.plan.version == 1))
        .order_by(PlanItem.stage)
        .order_by(PlanItem.position)
    )
    titles: dict[UUID, list[str]] = {}
    for row in rows:
        tooth = f" ({row['tooth']})" if row["tooth"] else ""
        titles.setdefault(row["referral"], []).append(f"{row['title_ru']}{tooth}")
    return titles

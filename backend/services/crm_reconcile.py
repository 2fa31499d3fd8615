"""Reconciling a CRM: a lost webhook is not lost (Bitrix24 never re-sends one; amoCRM may
drop one). Every integration with a CRM has a chain of passes, each reading our deals
(leads) changed since the last sync and recording what they say as the inbox would."""

from datetime import datetime, timedelta
from uuid import UUID

import httpx

from backend.integrations.adapters import ADAPTERS, CRMS
from backend.integrations.base import CrmRejected, CrmUnavailable
from backend.runtime.clock import utcnow
from backend.services.connections import connection, retry_later
from backend.services.inbox import RECONCILE_HEADER, apply_change, finish
from backend.store import integrations as store
from backend.store import outbox
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome

RECONCILE = "crm.reconcile"  # the outbox topic: {"integration_id": …}
RECONCILE_EVERY = timedelta(minutes=10)
RECONCILE_OVERLAP = timedelta(minutes=5)  # clocks and slow commits on the portal's side


async def schedule_reconcile(integration_id: UUID, now: datetime, *, first: bool = False) -> None:
    at = now if first else now + RECONCILE_EVERY
    slot = int(at.timestamp() // RECONCILE_EVERY.total_seconds())
    await outbox.enqueue(
        topic=RECONCILE,
        payload={"integration_id": str(integration_id)},
        now=now,
        available_at=at,
        dedupe_key=f"crm.reconcile:{integration_id}:{slot}",
    )


async def reconcile(
    integration_id: UUID,
    http: httpx.AsyncClient,
    *,
    secret_key: str,
    last_try: bool = False,
    now: datetime | None = None,
) -> Outcome:
    """Read our deals (leads) modified since the last sync and record what they say. The
    sync time moves only after a whole pass was read and recorded: a vendor outage in the
    middle retries the pass, from the same time. A run that recorded or failed anything
    leaves a delivery in the inbox (replayable); a quiet run leaves only last_sync_at."""
    now = now or utcnow()
    row = await store.integration(integration_id)
    if row is None or row.archived_at is not None or row.system not in CRMS:
        return Outcome(status="done")  # the chain ends with the integration
    system = row.system
    adapter = ADAPTERS[system]
    conn = await connection(row, secret_key)
    since = (row.last_sync_at or row.created_at) - RECONCILE_OVERLAP
    try:
        changes = await adapter.recently_changed(conn, since, http)
    except CrmUnavailable as exc:
        if last_try:  # the pass gives up, the chain does not: the next one reads from `since`
            async with write_transaction():
                await schedule_reconcile(integration_id, now)
            return Outcome(status="failed", detail=f"gave up: {exc}")
        return retry_later(exc)
    except CrmRejected as exc:
        async with write_transaction():
            await schedule_reconcile(integration_id, now)
        return Outcome(status="failed", detail=str(exc))
    outcomes = [await apply_change(conn, adapter, change, now) for change in changes]
    async with write_transaction():
        if any(o.outcome not in ("duplicate", "ignored") for o in outcomes):
            delivery_id = await store.store_delivery(
                clinic_id=conn.clinic_id,
                system=system,
                headers={RECONCILE_HEADER: since.isoformat()},
                body="",
                now=now,
                delivery_key=f"reconcile:{now.isoformat()}",
            )
        else:
            delivery_id = None
        await store.mark_synced(integration_id, now)
        await schedule_reconcile(integration_id, now)
    if delivery_id is not None:
        await finish(delivery_id, now, outcomes=outcomes)
    return Outcome(status="done")

"""amoCRM clinics reconcile too (backend.services.integrations.reconcile): the chain of
10-minute passes starts when an integration is saved, so the amoCRM integrations saved
before this change get their first pass here. Written by hand (see m0002 for why); the
two tables are described by the columns it touches only, as they are at this point."""

import json
from datetime import UTC, datetime

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, JSONB, SmallInt, Timestamptz, Varchar
from piccolo.table import Table

ID = "2026-12-02T12:43:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "first reconcile pass for amoCRM integrations saved before it existed"

TOPIC = "crm.reconcile"
EVERY_S = 600  # backend.services.integrations.RECONCILE_EVERY: the dedupe key's slot


class _Integration(Table, tablename="integration"):
    id = UUID(primary_key=True)
    system = Varchar(length=12)
    archived_at = Timestamptz(null=True, default=None)


class _Outbox(Table, tablename="outbox"):
    topic = Varchar(length=32)
    dedupe_key = Varchar(length=200, null=True, default=None)
    payload = JSONB()
    status = Varchar(length=12)
    available_at = Timestamptz()
    attempts = SmallInt(default=0)
    created_at = Timestamptz()


async def start_chains(now: datetime | None = None) -> int:
    """Enqueue a first pass, due now, for each live amoCRM integration (once: the key is
    the one the chain itself uses); how many were enqueued."""
    now = now or datetime.now(UTC)
    slot = int(now.timestamp() // EVERY_S)
    rows = await _Integration.select(_Integration.id).where(
        (_Integration.system == "amocrm") & _Integration.archived_at.is_null()
    )
    for row in rows:
        await _Outbox.insert(
            _Outbox(
                topic=TOPIC,
                dedupe_key=f"{TOPIC}:{row['id']}:{slot}",
                payload=json.dumps({"integration_id": str(row["id"])}),
                status="pending",
                available_at=now,
                attempts=0,
                created_at=now,
            )
        ).on_conflict(target=(_Outbox.dedupe_key,), action="DO NOTHING")
    return len(rows)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_raw(start_chains)
    return manager

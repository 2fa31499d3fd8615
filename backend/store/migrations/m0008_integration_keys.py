"""Unique keys for the integration tables, written by hand (see m0002 for why)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T13:16:28:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique keys for inbox, external links, price lists"

STATEMENTS = [
    'CREATE UNIQUE INDEX ux_inbox_delivery ON "inbox" ("clinic", "delivery_key")',
    'CREATE INDEX ix_inbox_clinic_received ON "inbox" ("clinic", "received_at")',
    'CREATE UNIQUE INDEX ux_external_link ON "external_link" ("clinic", "system", "external_id")',
    'CREATE UNIQUE INDEX ux_price_entry ON "price_entry" ("scope", "code")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager

"""Keys and indexes for the staff alert and call-note tables (m0031, m0032), by hand
(see m0002 for why): a digest holds an alert once per person."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T09:33:33:000000"
VERSION = "1.38.0"
DESCRIPTION = "keys for staff alert digests, call-back index"

STATEMENTS = [
    'CREATE UNIQUE INDEX ux_staff_alert_digest ON "staff_alert_digest" ("staff", "alert")',
    'CREATE INDEX ix_staff_alert_digest_waiting ON "staff_alert_digest" ("staff", "sent_at")',
    'CREATE INDEX ix_call_note_callbacks ON "call_note" ("clinic", "callback_done_at", '
    '"callback_at")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager

"""Pending outbox messages by referral: every recorded event asks which timers of its
referral are pending (outbox.pending_keys). Without this index each recording scanned
every pending timer of every referral (the soak: 17,796 rows, 2.8 ms per claim, and
growing with the city). Partial: only pending rows, so it stays as small as the timers."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T19:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index of pending outbox messages by referral"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run() -> None:
        await engine_finder().run_ddl(
            'CREATE INDEX IF NOT EXISTS "outbox_pending_by_referral" '
            "ON \"outbox\" (\"referral\", \"topic\") WHERE \"status\" = 'pending'"
        )

    manager.add_raw(run)
    return manager

"""The sync feed's index (m0047): a patient's changes after a cursor, by hand (a
migration's raw step runs before its tables are made, hence its own migration)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T12:48:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index of patient_change by (patient, seq)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(
            'CREATE INDEX ix_patient_change_seq ON "patient_change" ("patient", "seq")'
        )

    manager.add_raw(run)
    return manager

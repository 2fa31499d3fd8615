"""The weekly SMS allowance counts a patient's messages of the last seven days, and a
question SMS looks for one sent about the same referral within the hour: indexes for
both, so neither reads the whole log."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T18:25:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "SMS messages by patient and time, by referral and time"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS "sms_message_patient_planned" '
            'ON "sms_message" ("patient", "planned_at")'
        )
        await engine.run_ddl(
            'CREATE INDEX IF NOT EXISTS "sms_message_referral_planned" '
            'ON "sms_message" ("referral", "planned_at")'
        )

    manager.add_raw(run)
    return manager

"""A period's conversion reads the referrals of some clinics sent on some days: an
index on (clinic, sent_day). Its own migration because Piccolo runs raw statements
before it creates tables (m0037 creates this one)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T10:38:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "conversion positions by clinic and day"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run() -> None:
        await engine_finder().run_ddl(
            'CREATE INDEX ix_conversion_position_clinic_day ON "conversion_position" '
            '("clinic", "sent_day")'
        )

    manager.add_raw(run)
    return manager

"""Indexes for the funnel's roll-up rows, written by hand (see m0002 for why)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T14:07:28:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for funnel facts: by referral, and by clinic and day"

STATEMENTS = [
    'CREATE INDEX ix_funnel_fact_referral ON "funnel_fact" ("referral")',
    'CREATE INDEX ix_funnel_fact_clinic_day ON "funnel_fact" ("clinic", "day", "kind")',
    'CREATE INDEX ix_funnel_fact_day ON "funnel_fact" ("day", "kind")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager

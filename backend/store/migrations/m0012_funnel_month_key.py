"""The key the monthly sums are added under, written by hand (see m0002 for why)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique key of funnel_month, filled from the facts"

STATEMENTS = [
    'CREATE UNIQUE INDEX ux_funnel_month ON "funnel_month" '
    '("clinic", "month", "cohort", "kind", "split", "reason")',
    'CREATE INDEX ix_funnel_month_month ON "funnel_month" ("month", "kind")',
    # Facts written before the monthly sums existed.
    'INSERT INTO "funnel_month" ("clinic", "cohort", "month", "kind", "split", "reason", '
    '"amount", "count") SELECT "clinic", "cohort", "month", "kind", "split", "reason", '
    'SUM("amount"), SUM("count") FROM "funnel_fact" '
    'GROUP BY "clinic", "cohort", "month", "kind", "split", "reason"',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager

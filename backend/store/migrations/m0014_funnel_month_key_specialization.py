"""The monthly sums keyed by specialization too, written by hand (see m0002 for why).

Facts and sums are derived rows: they are emptied here and rewritten from the ledger
by `plantrack refold --missing` (run it after migrating; `make run` does)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T16:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "funnel_month keyed by specialization; facts to be refolded"

STATEMENTS = [
    "DROP INDEX ux_funnel_month",
    'CREATE UNIQUE INDEX ux_funnel_month ON "funnel_month" '
    '("clinic", "month", "cohort", "specialization", "kind", "split", "reason")',
    'DELETE FROM "funnel_month"',
    'DELETE FROM "funnel_fact"',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager

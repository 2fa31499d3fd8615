"""The reserve's read indexes (the balances holding at a month, with money or plans in)
carry what the report sums (cohort, amount, count) on PostgreSQL, so a month's reserve
is read from the index alone (an index-only scan) instead of visiting a table page for
each clinic and cohort, pages that spread wider as the history grows.

It costs the writes nothing: `amount` and `count` are already in these indexes'
condition, so an update of a balance was never a HOT update.

And the month's read tables are scanned without parallel workers: a month's report reads
a few thousand of their rows, and starting workers for it cost more than it saved (a
median 7.6 ms against 4.4 ms in one process at 100k referrals; three times slower with
the two cores busy). SQLite has neither INCLUDE nor parallel scans: nothing to do."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T15:00:00:000055"
VERSION = "1.38.0"
DESCRIPTION = "the month's read tables: covering balance indexes, no parallel scans (PostgreSQL)"

# index, table, the balance's key columns besides clinic (what the reports group by)
INDEXES = (
    ("ix_funnel_balance_open", "funnel_balance", '"cohort", "specialization", "clinic"'),
    ("ix_funnel_clinic_balance_open", "funnel_clinic_balance", '"cohort", "clinic"'),
)

SERIAL = ("funnel_month_flow", "funnel_balance", "funnel_clinic_balance")


def statements() -> list[str]:
    out = []
    for index, table, keys in INDEXES:
        out += [
            f"DROP INDEX {index}",
            f'CREATE INDEX {index} ON "{table}" ("next_month", "month") '
            f'INCLUDE ({keys}, "amount", "count") WHERE "amount" <> 0 OR "count" <> 0',
        ]
    out += [f'ALTER TABLE "{table}" SET (parallel_workers = 0)' for table in SERIAL]
    return out


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if engine.engine_type == "postgres":
            for statement in statements():
                await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager

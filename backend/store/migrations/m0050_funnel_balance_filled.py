"""funnel_balance's key and read index, and its rows from the monthly sums' reserve
movements (a migration's raw step runs before its tables are made, hence apart from
m0049). The balance of a key at a month is the sum of its movements up to that month;
a row for every month that has a movement, each holding until the key's next row."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T21:41:09:000000"
VERSION = "1.38.0"
DESCRIPTION = "funnel_balance keyed, indexed and filled from funnel_month"

# Both engines have window functions (SQLite since 3.25).
FILL = (
    'INSERT INTO "funnel_balance" ("clinic", "cohort", "specialization", "month", '
    '"amount", "count", "next_month") '
    'SELECT "clinic", "cohort", "specialization", "month", '
    'SUM("amount") OVER running, SUM("count") OVER running, '
    "COALESCE(LEAD(\"month\") OVER running, '9999-99') "
    'FROM (SELECT "clinic", "cohort", "specialization", "month", '
    'SUM("amount") AS "amount", SUM("count") AS "count" FROM "funnel_month" '
    "WHERE \"kind\" = 'reserve' "
    'GROUP BY "clinic", "cohort", "specialization", "month") AS moves '
    'WINDOW running AS (PARTITION BY "clinic", "cohort", "specialization" ORDER BY "month")'
)

STATEMENTS = [
    'CREATE UNIQUE INDEX ux_funnel_balance ON "funnel_balance" '
    '("clinic", "cohort", "specialization", "month")',
    # The reserve at a month: the rows holding at it, only those with money or plans in.
    'CREATE INDEX ix_funnel_balance_open ON "funnel_balance" ("next_month", "month") '
    'WHERE "amount" <> 0 OR "count" <> 0',
    FILL,
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager

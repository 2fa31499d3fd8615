"""funnel_month_flow's key (which is also its read index: a month, all clinics or
some), and its rows from the monthly sums' flows (a migration's raw step runs before
its tables are made, hence apart from m0051): the cohort is kept only where the
referral was not sent before the month. And the reserve's running balances of every
specialization (funnel_balance rows with specialization '*'), from the monthly sums'
reserve movements as m0050 fills the rows of each specialization."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T06:40:52:000052"
VERSION = "1.38.0"
DESCRIPTION = "funnel_month_flow keyed and filled from funnel_month"

# The kinds of store.funnel_facts.FUNNEL_KINDS as they were when this was written.
FILL = (
    'INSERT INTO "funnel_month_flow" ("clinic", "month", "kind", "split", "reason", '
    '"cohort", "amount", "count") '
    'SELECT "clinic", "month", "kind", "split", "reason", "cohort", '
    'SUM("amount"), SUM("count") FROM (SELECT "clinic", "month", "kind", '
    '"split", "reason", CASE WHEN "cohort" >= "month" THEN "cohort" ELSE \'\' END AS "cohort", '
    '"amount", "count" FROM "funnel_month" WHERE "kind" IN (\'in\', \'transferred_in\', '
    "'transferred_out', 'accepted', 'executed', 'paid', 'lost')) AS flows "
    'GROUP BY "clinic", "month", "kind", "split", "reason", "cohort" '
    # In the key's order: a month's rows together, as the recordings of a month make them.
    'ORDER BY "month", "clinic", "kind", "split", "reason", "cohort"'
)

# As m0050's FILL, summed over the specializations.
FILL_EVERY_SPECIALIZATION = (
    'INSERT INTO "funnel_balance" ("clinic", "cohort", "specialization", "month", '
    '"amount", "count", "next_month") '
    'SELECT "clinic", "cohort", \'*\', "month", '
    'SUM("amount") OVER running, SUM("count") OVER running, '
    "COALESCE(LEAD(\"month\") OVER running, '9999-99') "
    'FROM (SELECT "clinic", "cohort", "month", '
    'SUM("amount") AS "amount", SUM("count") AS "count" FROM "funnel_month" '
    "WHERE \"kind\" = 'reserve' "
    'GROUP BY "clinic", "cohort", "month") AS moves '
    'WINDOW running AS (PARTITION BY "clinic", "cohort" ORDER BY "month")'
)

STATEMENTS = [
    'CREATE UNIQUE INDEX ux_funnel_month_flow ON "funnel_month_flow" '
    '("month", "clinic", "kind", "split", "reason", "cohort")',
    FILL,
    FILL_EVERY_SPECIALIZATION,
    # The reserve at a month is now always read for one specialization or '*'.
    'CREATE INDEX ix_funnel_balance_open_of ON "funnel_balance" '
    '("specialization", "next_month", "month") WHERE "amount" <> 0 OR "count" <> 0',
    "DROP INDEX ix_funnel_balance_open",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager

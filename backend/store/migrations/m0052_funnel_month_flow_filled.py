"""funnel_month_flow's key (which is also its read index: a month, all clinics or
some), and its rows from the monthly sums' flows (a migration's raw step runs before
its tables are made, hence apart from m0051): the cohort is kept only where the
referral was not sent before the month. And funnel_clinic_balance's key and read index,
and its rows from the monthly sums' reserve movements, as m0050 fills funnel_balance's
summed over the specializations."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T06:40:52:000052"
VERSION = "1.38.0"
DESCRIPTION = "funnel_month_flow and funnel_clinic_balance keyed and filled from funnel_month"

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
FILL_CLINIC_BALANCES = (
    'INSERT INTO "funnel_clinic_balance" ("clinic", "cohort", "month", '
    '"amount", "count", "next_month") '
    'SELECT "clinic", "cohort", "month", '
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
    'CREATE UNIQUE INDEX ux_funnel_clinic_balance ON "funnel_clinic_balance" '
    '("clinic", "cohort", "month")',
    # The reserve at a month: the rows holding at it, only those with money or plans in.
    'CREATE INDEX ix_funnel_clinic_balance_open ON "funnel_clinic_balance" '
    '("next_month", "month") WHERE "amount" <> 0 OR "count" <> 0',
    FILL_CLINIC_BALANCES,
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager

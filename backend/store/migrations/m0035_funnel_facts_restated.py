"""Funnel facts restated for issue 20's figures, written by hand (see m0002 for why).

Transfers are no longer "in" (transferred_in / transferred_out), accepted referrals
carry their estimate (accepted_estimate), payments their receipt's split, plan
revisions are facts, and receipts are verified: facts and sums are derived rows, so
they are emptied here and rewritten from the ledger by `plantrack refold --missing`
(run it after migrating; `make run` does), which also writes the receipts'
verifications."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T10:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "funnel facts to be refolded for issue 20's figures"

STATEMENTS = [
    'DELETE FROM "funnel_month"',
    'DELETE FROM "funnel_fact"',
]
# Kinds such as "accepted_estimate" need more than 16 characters; SQLite does not hold
# a varchar to its length, PostgreSQL does.
WIDER_KIND = [
    'ALTER TABLE "funnel_fact" ALTER COLUMN "kind" TYPE VARCHAR(24)',
    'ALTER TABLE "funnel_month" ALTER COLUMN "kind" TYPE VARCHAR(24)',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)
        if engine.engine_type == "postgres":
            for sql in WIDER_KIND:
                await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager

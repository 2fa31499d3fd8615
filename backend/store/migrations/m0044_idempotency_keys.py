"""Idempotency keys of patients' POSTs (issue 22): one row per patient and key, with a
hash of the request and, once answered, the answer a retry gets again. Written by hand
as one raw step, because the table needs a two-column unique key and Piccolo runs raw
statements before the tables it creates (see m0038); the column types are the names
Piccolo gives them, so both engines read the rows as backend.store.tables describes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T12:44:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotency keys of patients' POSTs"

STATEMENTS = [
    """
    CREATE TABLE "idempotency_key" (
        "id" UUID PRIMARY KEY,
        "patient" UUID NOT NULL,
        "key" VARCHAR(255) NOT NULL,
        "fingerprint" VARCHAR(64) NOT NULL,
        "state" VARCHAR(8) NOT NULL,
        "created_at" TIMESTAMPTZ NOT NULL,
        "lease_until" TIMESTAMPTZ NOT NULL,
        "status" INTEGER NULL,
        "content_type" VARCHAR(100) NOT NULL DEFAULT '',
        "body" TEXT NULL,
        "finished_at" TIMESTAMPTZ NULL
    )
    """,
    'CREATE UNIQUE INDEX ux_idempotency_key ON "idempotency_key" ("patient", "key")',
    # The worker's sweep of rows past their 24 hours.
    'CREATE INDEX ix_idempotency_key_created ON "idempotency_key" ("created_at")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager

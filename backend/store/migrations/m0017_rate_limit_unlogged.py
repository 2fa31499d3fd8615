"""Rate-limit counters skip PostgreSQL's write-ahead log (an unlogged table).

Counters are worth nothing after a crash (a window simply restarts), so counting a
request should not wait for a log flush. SQLite has no such tables: nothing to do."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-25T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rate limit counters unlogged on PostgreSQL"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if engine.engine_type == "postgres":
            await engine.run_ddl('ALTER TABLE "rate_limit" SET UNLOGGED')

    manager.add_raw(run)
    return manager

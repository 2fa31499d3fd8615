"""Keys of migration m0027's rows: a tooth has one state per phase and variant (NULL, a
state of every variant, compared as ''), and a plan version names each variant once."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T09:28:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "keys of plan variants and per-variant tooth states"

STATEMENTS = (
    "DROP INDEX IF EXISTS ux_tooth_state_key",
    'CREATE UNIQUE INDEX ux_tooth_state_key ON "tooth_state" '
    "(\"plan\", \"tooth\", \"phase\", COALESCE(\"variant\", \'\'))",
    'CREATE UNIQUE INDEX ux_plan_variant_key ON "plan_variant" ("plan", "variant")',
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run() -> None:
        for statement in STATEMENTS:
            await engine_finder().run_ddl(statement)

    manager.add_raw(run)
    return manager

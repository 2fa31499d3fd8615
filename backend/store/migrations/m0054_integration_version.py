"""integration.version: raised by every change of an integration's token, secrets or
settings, so that a process keeping the integration in memory can have its delivery's
one write check the row is still the one it knows (backend.services.inbox)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T06:54:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "integration.version: changes with its token, secrets or settings"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Integration",
        tablename="integration",
        column_name="version",
        db_column_name="version",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager

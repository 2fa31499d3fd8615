"""Request counters per client and route group in fixed windows, shared by every
server process (backend/rate_limits.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-25T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rate limit counters"


def _params(**given):
    return {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **given,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_table(class_name="RateLimit", tablename="rate_limit", schema=None, columns=None)
    for name, column_class, params in (
        ("key", Varchar, _params(length=200, default="", primary_key=True)),
        # Indexed: pruning deletes the windows that ended.
        ("window_start", Timestamptz, _params(default=TimestamptzNow(), index=True)),
        ("hits", Integer, _params(default=0)),
    ):
        manager.add_column(
            table_class_name="RateLimit",
            tablename="rate_limit",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager

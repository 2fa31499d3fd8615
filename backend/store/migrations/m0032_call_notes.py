"""The coordinator's call history: each outcome, note and call-back task, by referral
(backend.services.worklist). Nothing is deleted; a call-back is marked done."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T09:32:32:000000"
VERSION = "1.38.0"
DESCRIPTION = "call notes and call-back tasks"


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


COLUMNS = [
    ("id", UUID, _params(primary_key=True)),
    ("referral", UUID, _params(default=None, index=True)),
    ("clinic", UUID, _params(default=None)),
    ("staff", UUID, _params(default=None)),
    ("outcome", Varchar, _params(length=20, default="note")),
    ("reason", Varchar, _params(length=80, default="")),
    ("note", Text, _params(default="")),
    ("callback_at", Timestamptz, _params(null=True, default=None)),
    ("callback_done_at", Timestamptz, _params(null=True, default=None)),
    ("created_at", Timestamptz, _params(default=TimestamptzNow())),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_table(class_name="CallNote", tablename="call_note", schema=None, columns=None)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="CallNote",
            tablename="call_note",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )

    return manager

"""Pictures in the sizes a phone needs (issue 22): the uploaded picture's width and height,
and its smaller copies (thumb, screen; WebP and JPEG) as a list of objects. Pictures stored
before get theirs from `plantrack media-sizes`; until then the API offers the original for
every size."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSONB, Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T12:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "picture sizes"


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


COLUMNS = (
    ("width", Integer, _params(null=True, default=None)),
    ("height", Integer, _params(null=True, default=None)),
    ("sizes", JSONB, _params(default="[]")),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="Media",
            tablename="media",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T11:54:05:960525"
VERSION = "1.38.0"
DESCRIPTION = "patient search key"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="plantrack", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Patient",
        tablename="patient",
        column_name="search_key",
        db_column_name="search_key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 260,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T16:03:46:480171"
VERSION = "1.38.0"
DESCRIPTION = "main specialization on funnel facts and monthly sums; longer kinds"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    manager.add_column(
        table_class_name="FunnelFact",
        tablename="funnel_fact",
        column_name="specialization",
        db_column_name="specialization",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "",
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

    manager.add_column(
        table_class_name="FunnelMonth",
        tablename="funnel_month",
        column_name="specialization",
        db_column_name="specialization",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "",
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

    manager.alter_column(
        table_class_name="FunnelFact",
        tablename="funnel_fact",
        column_name="kind",
        db_column_name="kind",
        params={"length": 16},
        old_params={"length": 10},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    manager.alter_column(
        table_class_name="FunnelMonth",
        tablename="funnel_month",
        column_name="kind",
        db_column_name="kind",
        params={"length": 16},
        old_params={"length": 10},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager

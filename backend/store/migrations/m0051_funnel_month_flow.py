"""The monthly sums of the flows per clinic, without the cohort and the specialization
(store.funnel_facts): the month's report of every specialization reads one row per
clinic, kind, split and reason instead of one per cohort and specialization too. Its
key and its filling from the monthly sums: m0052."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, BigInt, BigSerial, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T06:40:51:000051"
VERSION = "1.38.0"
DESCRIPTION = "funnel_month_flow: the month's flows per clinic without the cohort"


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
    ("id", BigSerial, _params(primary_key=True)),
    ("clinic", UUID, _params(default=None)),
    ("month", Varchar, _params(length=7, default="")),
    ("kind", Varchar, _params(length=24, default="")),
    ("split", Varchar, _params(length=12, default="")),
    ("reason", Varchar, _params(length=200, default="")),
    ("cohort", Varchar, _params(length=7, default="")),
    ("amount", BigInt, _params(default=0)),
    ("count", BigInt, _params(default=0)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_table(
        class_name="FunnelMonthFlow", tablename="funnel_month_flow", schema=None, columns=None
    )
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="FunnelMonthFlow",
            tablename="funnel_month_flow",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager

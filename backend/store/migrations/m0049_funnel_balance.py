"""The reserve as a running balance per clinic, cohort, specialization and month
(store.funnel_facts): a month's reserve from one row per key instead of the movements
of every month before it. Its keys and its filling from the monthly sums: m0050."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, BigInt, BigSerial, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T21:40:17:000000"
VERSION = "1.38.0"
DESCRIPTION = "funnel_balance: the reserve's running balance per key and month"


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
    ("cohort", Varchar, _params(length=7, default="")),
    ("specialization", Varchar, _params(length=20, default="")),
    ("month", Varchar, _params(length=7, default="")),
    ("next_month", Varchar, _params(length=7, default="9999-99")),
    ("amount", BigInt, _params(default=0)),
    ("count", BigInt, _params(default=0)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_table(
        class_name="FunnelBalance", tablename="funnel_balance", schema=None, columns=None
    )
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="FunnelBalance",
            tablename="funnel_balance",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager

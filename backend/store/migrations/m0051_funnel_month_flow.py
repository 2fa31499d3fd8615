"""The monthly sums of the flows per clinic, without the cohort and the specialization,
and the reserve's running balances per clinic and cohort over every specialization
(store.funnel_facts): the month's report of every specialization reads one row per
clinic, kind, split and reason, and one per clinic and cohort, instead of one per
cohort and specialization too. Their keys and their filling from the monthly sums:
m0052."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, BigInt, BigSerial, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T06:40:51:000051"
VERSION = "1.38.0"
DESCRIPTION = "funnel_month_flow and funnel_clinic_balance: the month's report per clinic"


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


BALANCE_COLUMNS = [
    ("id", BigSerial, _params(primary_key=True)),
    ("clinic", UUID, _params(default=None)),
    ("cohort", Varchar, _params(length=7, default="")),
    ("month", Varchar, _params(length=7, default="")),
    ("next_month", Varchar, _params(length=7, default="9999-99")),
    ("amount", BigInt, _params(default=0)),
    ("count", BigInt, _params(default=0)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    for class_name, tablename, columns in (
        ("FunnelMonthFlow", "funnel_month_flow", COLUMNS),
        ("FunnelClinicBalance", "funnel_clinic_balance", BALANCE_COLUMNS),
    ):
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    return manager

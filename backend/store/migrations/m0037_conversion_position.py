"""Each referral's place in the conversion (issue 20): one derived row per referral,
rewritten with its other derived rows, so that a period's conversion is one grouped
count over the referrals sent in it. Filled by `plantrack refold --missing` (m0035
already empties the facts, so every referral is refolded). Its index: m0038."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, Boolean, Date, SmallInt, Varchar
from piccolo.columns.defaults.date import DateNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T10:37:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "conversion positions"


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
    ("id", UUID, _params(default=UUID4(), primary_key=True)),  # the referral's id
    ("clinic", UUID, _params(default=UUID4())),
    ("sent_day", Date, _params(default=DateNow())),
    ("specialization", Varchar, _params(length=20, default="")),
    ("coordinator", Varchar, _params(length=120, default="")),
    ("reached", SmallInt, _params(default=0)),
    ("status", Varchar, _params(length=12, default="open")),
    ("transfer", Boolean, _params(default=False)),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_table(
        class_name="ConversionPosition", tablename="conversion_position", schema=None, columns=None
    )
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="ConversionPosition",
            tablename="conversion_position",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager

"""The patient's plan screen of each referral as it was last built (encoded, with its
list row), and what it was built from, so a read serves it without rebuilding while
nothing it shows has changed (backend.services.screens); and the screens' epoch, raised
by every edit of a clinic, its settings or norms, which outdates every stored screen."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, BigInt, Bytea, Integer, Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T21:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "referral_screen: stored plan screens; screen_epoch"


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


TABLES = {
    ("ReferralScreen", "referral_screen"): [
        ("referral", UUID, _params(primary_key=True, default=None)),
        ("patient", UUID, _params(default=None, index=True)),
        ("built_seq", BigInt, _params(default=0)),
        ("epoch", BigInt, _params(default=0)),
        ("format", Integer, _params(default=0)),
        ("valid_until", Timestamptz, _params(null=True, default=None)),
        ("screen", Bytea, _params(null=True, default=None)),
        ("summary", Bytea, _params(null=True, default=None)),
    ],
    ("ScreenEpoch", "screen_epoch"): [
        ("id", Integer, _params(primary_key=True, default=1)),
        ("epoch", BigInt, _params(default=0)),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
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

"""Settings a clinic and the exchange can change (issue 20), and the restatements a
change starts: one settings row per scope ("exchange" or a clinic id), values as text
so that SQLite and PostgreSQL store them alike; one row per restatement with its
progress."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T10:36:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "clinic settings and restatements"


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


def _nullable(column_class, **given):
    return column_class, _params(null=True, default=None, **given)


TABLES = {
    ("ClinicSetting", "clinic_setting"): (
        ("id", UUID, _params(default=UUID4(), primary_key=True)),
        ("scope", Varchar, _params(length=40, default="", unique=True)),
        ("opens", *_nullable(Varchar, length=5)),
        ("closes", *_nullable(Varchar, length=5)),
        ("weekdays", *_nullable(Varchar, length=20)),
        ("holidays", *_nullable(Text)),
        ("first_contact_sla_minutes", *_nullable(Integer)),
        ("answer_window_hours", *_nullable(Integer)),
        ("visit_grace_hours", *_nullable(Integer)),
        ("sender_name", *_nullable(Varchar, length=11)),
        ("updated_at", Timestamptz, _params(default=TimestamptzNow())),
        ("updated_by", Varchar, _params(length=120, default="")),
    ),
    ("Restatement", "restatement"): (
        ("id", UUID, _params(default=UUID4(), primary_key=True)),
        ("scope", Varchar, _params(length=40, default="", index=True)),
        ("reason", Varchar, _params(length=200, default="")),
        ("requested_by", Varchar, _params(length=120, default="")),
        ("requested_at", Timestamptz, _params(default=TimestamptzNow())),
        ("total", Integer, _params(default=0)),
        ("done", Integer, _params(default=0)),
        ("last_referral", *_nullable(UUID)),
        ("finished_at", *_nullable(Timestamptz)),
    ),
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

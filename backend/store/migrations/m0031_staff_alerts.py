"""Alerts to staff (backend.services.staff_alerts): each event that needs a person once,
the alerts waiting for a person's daily digest, and each person's alert preferences."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import (
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T09:31:31:000000"
VERSION = "1.38.0"
DESCRIPTION = "staff alerts, digests and alert preferences"


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
    ("StaffAlert", "staff_alert"): [
        ("id", BigSerial, _params(primary_key=True)),
        ("dedupe_key", Varchar, _params(length=200, default="", unique=True)),
        ("kind", Varchar, _params(length=32, default="")),
        ("clinic", UUID, _params(null=True, default=None, index=True)),
        ("referral", UUID, _params(null=True, default=None, index=True)),
        ("details", JSONB, _params(default="{}")),
        ("happened_at", Timestamptz, _params(default=TimestamptzNow())),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("StaffAlertDigest", "staff_alert_digest"): [
        ("id", BigSerial, _params(primary_key=True)),
        ("staff", UUID, _params(default=None)),
        ("alert", BigInt, _params(default=0)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("sent_at", Timestamptz, _params(null=True, default=None)),
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
    manager.add_column(
        table_class_name="StaffUser",
        tablename="staff_user",
        column_name="alert_prefs",
        db_column_name="alert_prefs",
        column_class_name="JSONB",
        column_class=JSONB,
        params=_params(default="{}"),
        schema=None,
    )

    return manager

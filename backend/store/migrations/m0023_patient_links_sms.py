"""SMS to patients without the app: their personal links, the SMS log, and a mark on a
phone number SMS.ru refused (backend/services/sms.py, backend/services/patient_links.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    UUID,
    Boolean,
    ForeignKey,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-02T18:23:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "patient links, SMS messages, blocked SMS numbers"


class Patient(Table, tablename="patient", schema=None):
    id = UUID(default=UUID4(), null=False, primary_key=True)


class Referral(Table, tablename="referral", schema=None):
    id = UUID(default=UUID4(), null=False, primary_key=True)


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


def _fk(table, null=False):
    return _params(
        references=table,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        target_column=None,
        index=True,
        null=null,
        **({"default": None} if null else {}),
    )


ID_COLUMN = ("id", UUID, _params(default=UUID4(), primary_key=True))
NOW = TimestamptzNow()

TABLES = {
    ("PatientLink", "patient_link"): [
        ID_COLUMN,
        ("referral", ForeignKey, _fk(Referral)),
        ("patient", ForeignKey, _fk(Patient)),
        ("question", UUID, _params(default=None, null=True)),
        ("token_hash", Varchar, _params(length=64, default="", unique=True)),
        ("created_at", Timestamptz, _params(default=NOW)),
        ("revoked_at", Timestamptz, _params(default=None, null=True)),
    ],
    ("SmsMessage", "sms_message"): [
        ID_COLUMN,
        ("source_key", Varchar, _params(length=120, default="", unique=True)),
        ("patient", ForeignKey, _fk(Patient)),
        ("referral", ForeignKey, _fk(Referral, null=True)),
        ("kind", Varchar, _params(length=12, default="")),
        ("question", UUID, _params(default=None, null=True)),
        ("appointment", UUID, _params(default=None, null=True)),
        ("code", UUID, _params(default=None, null=True)),
        ("link", UUID, _params(default=None, null=True)),
        ("urgent", Boolean, _params(default=False)),
        ("status", Varchar, _params(length=10, default="queued", index=True)),
        ("reason", Text, _params(default=None, null=True)),
        ("planned_at", Timestamptz, _params(default=NOW)),
        ("parts", SmallInt, _params(default=0)),
        ("vendor_id", Varchar, _params(length=64, default=None, null=True)),
        ("attempts", SmallInt, _params(default=0)),
        ("created_at", Timestamptz, _params(default=NOW)),
        ("sent_at", Timestamptz, _params(default=None, null=True)),
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
    for name, column_class, params in (
        ("sms_blocked_at", Timestamptz, _params(default=None, null=True)),
        ("sms_blocked_reason", Varchar, _params(length=120, default=None, null=True)),
    ):
        manager.add_column(
            table_class_name="Patient",
            tablename="patient",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager

"""Proving the phone on the patient's web page: six-digit codes sent by SMS (kept as
HMACs) and the browser sessions they open (kept as SHA-256 of the cookie)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import UUID, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-02T18:24:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "SMS codes and patient web sessions"


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


def _fk(table):
    return _params(
        references=table,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        target_column=None,
        index=True,
    )


NOW = TimestamptzNow()
TABLES = {
    ("SmsCode", "sms_code"): [
        ("id", UUID, _params(default=UUID4(), primary_key=True)),
        ("referral", ForeignKey, _fk(Referral)),
        ("patient", ForeignKey, _fk(Patient)),
        ("code_hash", Varchar, _params(length=64, default="")),
        ("created_at", Timestamptz, _params(default=NOW)),
        ("expires_at", Timestamptz, _params(default=NOW)),
        ("used_at", Timestamptz, _params(default=None, null=True)),
    ],
    ("PatientWebSession", "patient_web_session"): [
        ("id", UUID, _params(default=UUID4(), primary_key=True)),
        ("patient", ForeignKey, _fk(Patient)),
        ("token_hash", Varchar, _params(length=64, default="", unique=True)),
        ("created_at", Timestamptz, _params(default=NOW)),
        ("expires_at", Timestamptz, _params(default=NOW)),
        ("revoked_at", Timestamptz, _params(default=None, null=True)),
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

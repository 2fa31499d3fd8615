"""What changed for a patient, in order (backend.services.changes): the app's sync feed.
Each patient counts their own changes (patient.change_seq, raised under the patient's
row lock), so a cursor never skips a change that committed late. Its index: m0048."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, BigInt, BigSerial, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T12:47:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "patient_change: the app's sync feed; patient.change_seq"


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
    ("patient", UUID, _params(default=None)),
    ("seq", BigInt, _params(default=0)),
    ("kind", Varchar, _params(length=12, default="")),
    ("object_id", UUID, _params(default=None)),
    ("referral", UUID, _params(default=None)),
    ("at", Timestamptz, _params(default=None)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_table(
        class_name="PatientChange", tablename="patient_change", schema=None, columns=None
    )
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="PatientChange",
            tablename="patient_change",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    manager.add_column(
        table_class_name="Patient",
        tablename="patient",
        column_name="change_seq",
        db_column_name="change_seq",
        column_class_name="BigInt",
        column_class=BigInt,
        params=_params(default=0),
        schema=None,
    )

    return manager

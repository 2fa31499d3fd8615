"""A referral's fold in progress (backend.domain.funnel.FoldState, JSON), kept with it
so a new event that sorts after the last one folded is applied to it instead of
refolding the whole ledger. Empty until the referral's next change; a state of another
fold version is ignored (refolded from the ledger)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Bytea
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T12:46:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "referral.fold_state: the stored fold in progress"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Referral",
        tablename="referral",
        column_name="fold_state",
        db_column_name="fold_state",
        column_class_name="Bytea",
        column_class=Bytea,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager

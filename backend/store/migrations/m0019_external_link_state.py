"""The vendor's time of the CRM object state whose money was applied last
(backend.services.crm_money): a state read later but older (a lagging read, two
deliveries processed out of order) is not applied over a newer one."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "state time of a CRM object's applied money"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    manager.add_column(
        table_class_name="ExternalLink",
        tablename="external_link",
        column_name="state_at",
        db_column_name="state_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
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

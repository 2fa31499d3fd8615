"""Read-only reports go to the replica when PLANTRACK_REPORTS_DATABASE_URL names one.

The stand-in replica here is a second database with the schema and no rows — a replica
that has not replayed anything yet — so a report read there shows nothing while the
primary holds the referral: that difference is the proof of where it read.
"""

import msgspec
import pytest

from backend.services import reports
from backend.settings import Settings, SettingsError, load_settings
from backend.store import ledger
from backend.store.engine import close_engine, current_engine, open_engine
from tests.conftest import _fresh_postgres_database, _migrate
from tests.factories import NOW, make_clinic, make_referral

pytestmark = pytest.mark.db


async def test_reports_read_the_replica_and_other_reads_the_primary(db: Settings) -> None:
    if db.is_sqlite:
        pytest.skip("replicas are PostgreSQL's")
    clinic = await make_clinic()
    await make_referral(clinic)
    day = NOW.date()
    on_primary = await reports.funnel([clinic], first=day.replace(day=1), last=day)
    assert on_primary.in_count == 1

    replica_url = await _fresh_postgres_database(db.database_url, "plantrack_replica_test")
    await _migrate(msgspec.structs.replace(db, database_url=replica_url))
    await close_engine(current_engine())  # what is bound now: the primary's, opened by `db`
    engine = await open_engine(msgspec.structs.replace(db, reports_database_url=replica_url))
    try:
        on_replica = await reports.funnel([clinic], first=day.replace(day=1), last=day)
        assert on_replica.in_count == 0 and on_replica.in_money == 0
        assert await ledger.count() > 0  # everything else still reads the primary
    finally:
        await close_engine(engine)


def test_a_replica_needs_a_postgresql_primary(tmp_path) -> None:
    env = {"PLANTRACK_VAR_DIR": str(tmp_path), "PLANTRACK_SECRET_KEY": "s" * 40}
    with pytest.raises(SettingsError, match="PLANTRACK_REPORTS_DATABASE_URL"):
        load_settings({**env, "PLANTRACK_REPORTS_DATABASE_URL": "postgresql://r@h/db"})
    with pytest.raises(SettingsError, match="PLANTRACK_REPORTS_DATABASE_URL"):
        load_settings(
            {
                **env,
                "PLANTRACK_DATABASE_URL": "postgresql://p@h/db",
                "PLANTRACK_REPORTS_DATABASE_URL": "mysql://r@h/db",
            }
        )
    ok = load_settings(
        {
            **env,
            "PLANTRACK_DATABASE_URL": "postgresql://p@h/db",
            "PLANTRACK_REPORTS_DATABASE_URL": "postgresql://r@h/db",
        }
    )
    assert ok.reports_database_url == "postgresql://r@h/db"

"""`plantrack backup` and `plantrack restore`, run as a user runs them: a ledger backed up
and restored into a fresh database comes back row for row, every column; on SQLite the
backup is taken while a writer keeps writing, and holds a consistent prefix of it."""

import asyncio
import os
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest

from backend.domain.events import Payment, Source
from backend.ops.backup import BackupError, _without_password, backup, restore
from backend.services.recording import Statement, record
from backend.settings import Settings, load_settings
from backend.store.engine import close_engine, current_engine, open_engine
from backend.store.tables import TABLES, Event
from tests.conftest import _fresh_postgres_database
from tests.factories import NOW, book, make_clinic, make_referral


async def plantrack(settings: Settings, *args: str) -> None:
    """The CLI in a process of its own, configured by the environment as in production."""
    env = {
        **os.environ,
        "PLANTRACK_DATABASE_URL": settings.database_url,
        "PLANTRACK_SECRET_KEY": settings.secret_key,
        "PLANTRACK_VAR_DIR": settings.var_dir,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", *args, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()


async def fill_ledger(clinics: int = 2, referrals: int = 4) -> None:
    for c in range(clinics):
        clinic = await make_clinic(name=f"Клиника {c}")
        for r in range(referrals):
            sent = await make_referral(clinic, phone=f"+7916555{c:02d}{r:02d}")
            at = NOW + timedelta(hours=1 + r)
            await book(sent.referral_id, at + timedelta(days=2), occurred_at=at, now=at)
            await record(
                sent.referral_id,
                Statement(body=Payment(amount=1500_00 + r), source=Source.clinic_panel, actor="t"),
                now=at + timedelta(days=3),
            )


async def every_row() -> dict[str, list[dict]]:
    """Every table's rows, in key order, every column."""
    rows = {}
    for table in TABLES:
        key = table._meta.primary_key
        rows[table._meta.tablename] = await table.select().order_by(key)
    return rows


def normalised(rows: dict[str, list[dict]]) -> bytes:
    # JSON columns come back as text on one engine and decoded on the other: compare
    # the same way on both sides.
    return msgspec.json.encode(rows, order="sorted")


async def read_from(settings: Settings) -> dict[str, list[dict]]:
    engine = await open_engine(settings)
    try:
        return await every_row()
    finally:
        await close_engine(engine)


async def test_a_restored_backup_holds_every_row(db: Settings, tmp_path: Path) -> None:
    await fill_ledger()
    before = await every_row()
    assert len(before["event"]) >= 16
    backup = tmp_path / "plantrack.backup"
    await plantrack(db, "backup", str(backup))
    assert backup.stat().st_size > 0

    if db.is_sqlite:
        fresh_url = f"sqlite:///{tmp_path / 'restored' / 'plantrack.sqlite3'}"
    else:
        fresh_url = await _fresh_postgres_database(db.database_url, "plantrack_restore_test")
    fresh = msgspec.structs.replace(db, database_url=fresh_url)
    await plantrack(fresh, "restore", str(backup))

    await close_engine(current_engine())  # the one the `db` fixture opened
    after = await read_from(fresh)
    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
    assert normalised(after) == normalised(before)
    await open_engine(db)  # the fixture closes what is bound at its end


async def test_sqlite_backup_while_a_writer_writes_is_a_consistent_prefix(
    db: Settings, tmp_path: Path
) -> None:
    if not db.is_sqlite:
        pytest.skip("pg_dump's snapshot is PostgreSQL's own guarantee; this is about SQLite")
    await fill_ledger(clinics=1, referrals=1)
    [referral_id] = {e["referral"] for e in await Event.select(Event.referral)}
    stop, written = asyncio.Event(), []

    async def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            await record(
                referral_id,
                Statement(body=Payment(amount=100 + n), source=Source.clinic_panel, actor="w"),
                now=NOW + timedelta(days=4, seconds=n),
            )
            written.append(n)
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.3)
    at_start = len(written)
    backup = tmp_path / "during-writes.backup"
    await plantrack(db, "backup", str(backup))
    await asyncio.sleep(0.1)
    stop.set()
    await task
    source = await Event.select().order_by(Event.id)

    with sqlite3.connect(backup) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    fresh = msgspec.structs.replace(db, database_url=f"sqlite:///{tmp_path / 'r.sqlite3'}")
    await plantrack(fresh, "restore", str(backup))
    await close_engine(current_engine())
    restored = (await read_from(fresh))["event"]
    await open_engine(db)
    print(
        f"\nwriter: {at_start} payments before the backup started, {len(written)} in all; "
        f"the backup holds {len(restored)} of {len(source)} events"
    )
    assert at_start > 0 and len(written) > at_start  # it really wrote during the backup
    assert len(restored) >= at_start
    assert normalised({"e": restored}) == normalised({"e": source[: len(restored)]})


def test_a_wrong_path_is_an_error_not_an_empty_backup(tmp_path: Path) -> None:

    missing = load_settings(
        {
            "PLANTRACK_VAR_DIR": str(tmp_path),
            "PLANTRACK_DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere.sqlite3'}",
        }
    )
    try:
        backup(missing, tmp_path / "copy.sqlite3")
        raise AssertionError("a missing database was backed up")
    except BackupError as exc:
        assert "no SQLite database" in str(exc)
    assert not (tmp_path / "nowhere.sqlite3").exists()
    assert not (tmp_path / "copy.sqlite3").exists()


def test_restoring_something_else_keeps_the_live_database(tmp_path: Path) -> None:

    live = tmp_path / "live.sqlite3"
    with sqlite3.connect(live) as conn:
        conn.execute("CREATE TABLE kept (x)")
        conn.execute("INSERT INTO kept VALUES (42)")
    not_a_backup = tmp_path / "dump.pgcustom"
    not_a_backup.write_bytes(b"PGDMP\x01\x0e\x00 not sqlite at all" * 100)
    settings = load_settings(
        {"PLANTRACK_VAR_DIR": str(tmp_path), "PLANTRACK_DATABASE_URL": f"sqlite:///{live}"}
    )
    try:
        restore(settings, not_a_backup)
        raise AssertionError("a non-SQLite file was restored")
    except BackupError as exc:
        assert "not an SQLite backup" in str(exc)
    with sqlite3.connect(live) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]


def test_the_postgresql_password_stays_off_the_command_line() -> None:

    url, password = _without_password("postgresql://app:s%40cret@db.internal:5433/plantrack")
    assert (url, password) == ("postgresql://app@db.internal:5433/plantrack", "s@cret")
    assert _without_password("postgresql://app@db/plantrack") == (
        "postgresql://app@db/plantrack",
        None,
    )

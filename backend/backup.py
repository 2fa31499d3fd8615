"""Backups of the whole database, taken while the service runs, and their restore.

PostgreSQL: `pg_dump --format=custom` (one consistent snapshot, whatever is being
written meanwhile) and `pg_restore` into an empty database. SQLite: the online backup
API copies the file page by page, consistent even with a writer at work. Restoring over
an SQLite file keeps the old one beside it (nothing is deleted).
"""

import glob
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from backend.settings import Settings


class BackupError(Exception):
    pass


def _sqlite_path(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


def _pg_tool(name: str) -> str:
    """pg_dump/pg_restore: on PATH, else the newest in Debian's versioned directories
    (a newer client reads and writes older servers' dumps; an older one refuses)."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools")
    return found


def _run(cmd: list[str]) -> None:
    # An argument list, no shell: the tool comes from PATH or Debian's directories.
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(settings: Settings, target: Path) -> Path:
    """Write a backup of the configured database to `target` (not overwritten)."""
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if settings.is_sqlite:
        source = sqlite3.connect(_sqlite_path(settings))
        copy = sqlite3.connect(partial)
        try:
            with copy:
                source.backup(copy, pages=1024)  # yields the lock between steps
        finally:
            copy.close()
            source.close()
    else:
        dump = [_pg_tool("pg_dump"), "--format=custom", "--file", str(partial)]
        _run([*dump, settings.database_url])
    partial.rename(target)  # a cut-off backup never looks like a finished one
    return target


def restore(settings: Settings, source: Path) -> None:
    """Load the backup at `source` into the configured database: an empty PostgreSQL
    database, or an SQLite file (an existing one is kept as <name>.before-restore-<time>)."""
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    if settings.is_sqlite:
        target = _sqlite_path(settings)
        if target.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            target.rename(target.with_name(f"{target.name}.before-restore-{stamp}"))
            for side in ("-wal", "-shm"):  # the WAL belongs to the file set aside
                wal = target.with_name(target.name + side)
                if wal.exists():
                    wal.rename(target.with_name(f"{target.name}.before-restore-{stamp}{side}"))
        target.parent.mkdir(parents=True, exist_ok=True)
        backup_db, restored = sqlite3.connect(source), sqlite3.connect(target)
        try:
            with restored:
                backup_db.backup(restored)
        finally:
            restored.close()
            backup_db.close()
        return
    _run(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            settings.database_url,
            str(source),
        ]
    )

"""Backups of the whole database, taken while the service runs, and their restore.

PostgreSQL: `pg_dump --format=custom` (one consistent snapshot, whatever is being
written meanwhile) and `pg_restore` into an empty database. SQLite: the online backup
API copies the file page by page, consistent even with a writer at work. Restoring over
an SQLite file keeps the old one beside it (nothing is deleted).

Pictures are not in the database: `backup_media` copies every object of the media store
(the media directory or the S3 bucket) into a directory, and `restore_media` puts such a
copy into the configured store. Pictures never change once stored (a new picture is a new
key), so a media copy taken after the database backup holds every picture that backup
names; the copy is incremental (a file already there, the same size, is not fetched again).
"""

import asyncio
import glob
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from backend.runtime.media_files import MediaFiles
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


def _open_sqlite(path: Path) -> sqlite3.Connection:
    """An existing database, read-only: a wrong path must not back up (or restore) a new
    empty file as if it were the data."""
    if not path.is_file():
        raise BackupError(f"no SQLite database at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _without_password(url: str) -> tuple[str, str | None]:
    """The URL without its password, and the password: a command line is readable by
    every local user (ps), the environment of our child process is not."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), unquote(parts.password)


def _run(cmd: list[str], password: str | None = None) -> None:
    env = {**os.environ, "PGPASSWORD": password} if password is not None else None
    # An argument list, no shell: the tool comes from PATH or Debian's directories.
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(settings: Settings, target: Path) -> Path:
    """Write a backup of the configured database to `target` (not overwritten)."""
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if settings.is_sqlite:
        source = _open_sqlite(_sqlite_path(settings))
        copy = sqlite3.connect(partial)
        try:
            with copy:
                # In one step, one read transaction: a stepwise backup restarts whenever
                # another connection writes, and every request writes (rate limits). In WAL
                # mode writers go on meanwhile.
                source.backup(copy, pages=-1)
        except sqlite3.Error as exc:
            raise BackupError(f"backup failed: {exc}") from exc
        finally:
            copy.close()
            source.close()
    else:
        dump = [_pg_tool("pg_dump"), "--format=custom", "--file", str(partial)]
        url, password = _without_password(settings.database_url)
        _run([*dump, url], password)
    partial.rename(target)  # a cut-off backup never looks like a finished one
    return target


def restore(settings: Settings, source: Path) -> None:
    """Load the backup at `source` into the configured database: an empty PostgreSQL
    database, or an SQLite file (an existing one is kept as <name>.before-restore-<time>)."""
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    if settings.is_sqlite:
        target = _sqlite_path(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Into a file of its own first: the live database is set aside only once the
        # backup has been read whole and checked.
        staged = target.with_name(target.name + ".restoring")
        staged.unlink(missing_ok=True)
        backup_db, restored = _open_sqlite(source), sqlite3.connect(staged)
        try:
            with restored:
                backup_db.backup(restored)
            if restored.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"{source} is damaged (quick_check failed)")
        except sqlite3.Error as exc:
            raise BackupError(f"{source} is not an SQLite backup: {exc}") from exc
        finally:
            restored.close()
            backup_db.close()
        if target.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            target.rename(target.with_name(f"{target.name}.before-restore-{stamp}"))
            for side in ("-wal", "-shm"):  # the WAL belongs to the file set aside
                wal = target.with_name(target.name + side)
                if wal.exists():
                    wal.rename(target.with_name(f"{target.name}.before-restore-{stamp}{side}"))
        staged.rename(target)
        return
    url, password = _without_password(settings.database_url)
    restore_cmd = [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction"]
    _run([*restore_cmd, "--dbname", url, str(source)], password)


def _local_target(root: Path, key: str) -> Path:
    target = (root / key).resolve()
    if root.resolve() not in target.parents:
        raise BackupError(f"a media key escapes the backup directory: {key!r}")
    return target


def _already_there(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def _write_whole(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.rename(path)


async def backup_media(files: MediaFiles, target: Path) -> tuple[int, int]:
    """Copy every picture object into the directory `target`, keeping the keys as paths;
    (objects copied, objects already there)."""
    copied = kept = 0
    for key, size in (await files.objects()).items():
        path = _local_target(target, key)
        if await asyncio.to_thread(_already_there, path, size):
            kept += 1
            continue
        await asyncio.to_thread(_write_whole, path, await files.get(key))
        copied += 1
    return copied, kept


def _backed_up(source: Path) -> list[Path]:
    if not source.is_dir():
        raise BackupError(f"no media backup at {source}")
    return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix != ".partial")


async def restore_media(files: MediaFiles, source: Path) -> int:
    """Put every file of a media backup into the configured store; how many."""
    paths = await asyncio.to_thread(_backed_up, source)
    for path in paths:
        key = path.relative_to(source).as_posix()
        await files.put(key, await asyncio.to_thread(path.read_bytes), _content_type(key))
    return len(paths)


CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def _content_type(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1].lower(), "application/octet-stream")

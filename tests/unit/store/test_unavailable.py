"""Which errors mean "the database is away for now" (503) and which are bugs (500)."""

import sqlite3

import asyncpg

from backend.store.unavailable import is_unavailable


def test_outages_are_told_from_bugs():
    assert is_unavailable(ConnectionRefusedError(111, "Connect call failed"))
    assert is_unavailable(OSError("Multiple exceptions: [Errno 111] Connect call failed"))
    assert is_unavailable(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert is_unavailable(asyncpg.CannotConnectNowError("the database system is starting up"))
    assert is_unavailable(asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-operation"))
    assert is_unavailable(
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed")
    )
    assert is_unavailable(sqlite3.OperationalError("database is locked"))

    assert not is_unavailable(ValueError("bad input"))
    assert not is_unavailable(FileNotFoundError(2, "No such file", "media/x.jpg"))
    assert not is_unavailable(asyncpg.exceptions.UniqueViolationError("duplicate key"))
    assert not is_unavailable(sqlite3.OperationalError("no such table: event"))
    # Misusing the driver is a bug of ours, not an outage.
    assert not is_unavailable(
        asyncpg.InterfaceError(
            "cannot call Connection.fetch(): connection has been released back to the pool"
        )
    )
    assert not is_unavailable(asyncpg.InterfaceError("pool is closed"))


def test_an_outage_behind_another_error_counts():
    try:
        try:
            raise asyncpg.exceptions.AdminShutdownError("terminating connection")
        except Exception as exc:
            raise RuntimeError("rollback failed") from exc
    except RuntimeError as wrapped:
        assert is_unavailable(wrapped)

"""Telling "the database is not there right now" apart from a bug.

An outage (PostgreSQL stopped, restarting, out of connections, the network gone; an
SQLite file locked past the busy timeout) is answered 503 with Retry-After, and waited
out by workers; anything else stays a 500. The error may come wrapped (a rollback that
fails after the statement that failed), so the whole cause chain is looked at. Text
PostgreSQL cannot store is the request's fault: `UNSTORABLE_TEXT`, answered 400.
"""

import errno
import socket
import sqlite3

import asyncpg

# Seconds a client is asked to wait before trying again.
RETRY_AFTER_S = 5

_POSTGRES_OUTAGES = (
    asyncpg.PostgresConnectionError,  # class 08: connection gone or refused
    asyncpg.exceptions.AdminShutdownError,  # 57P01: pg_ctl stop -m fast/immediate
    asyncpg.exceptions.CrashShutdownError,  # 57P02
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
    # A failover in progress: of the hosts in the URL none is a writable primary yet
    # (target_session_attrs=read-write), or the connection's server has just become a
    # standby; the connection is dropped and the next one finds the new primary.
    asyncpg.exceptions.TargetServerAttributeNotMatched,
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # 25006
)
# PostgreSQL's text holds no NUL character (SQLite's does): the request's fault, not ours.
UNSTORABLE_TEXT: tuple[type[Exception], ...] = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
}
_DROPPED = (
    "connection is closed",
    "closed in the middle of operation",
    "another operation is in progress",  # after an abort on a dropped connection
)
_SQLITE_OUTAGES = ("database is locked", "unable to open database file", "disk i/o error")


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, _POSTGRES_OUTAGES):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        # A connection the server dropped; a misuse of the API ("connection has been
        # released back to the pool", "pool is closed") stays a bug.
        return any(words in str(exc) for words in _DROPPED)
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # A pooled connection the server has just closed (its FATAL notice half read)
        # refuses the next statement this way.
        return "another operation" in str(exc)
    if isinstance(exc, (ConnectionError, socket.gaierror, TimeoutError)):
        return True  # refused, reset, no such host, connect timeout
    if isinstance(exc, OSError):
        # asyncio reports a refused connect to several addresses as a bare OSError; a
        # missing file or a full disk of our own is not an outage of the database.
        return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions")
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).lower() in _SQLITE_OUTAGES
    return False


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) means the database is unreachable for now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _is_outage(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False

"""The database engine: SQLite (embedded default) or PostgreSQL, bound to every table."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from backend.settings import Settings, database_url
from backend.store.unavailable import is_unavailable

# Piccolo looks its configuration module up by this name (migrations, its CLI).
os.environ.setdefault("PICCOLO_CONF", "backend.piccolo_conf")

SQLITE_BUSY_TIMEOUT_S = 30


class _Connection(asyncpg.Connection):
    """Nothing in plantrack sets session state (no SET, LISTEN, session advisory locks or
    cursors kept open), so a connection going back to the pool needs no reset query —
    a round trip saved on every statement. asyncpg still rolls back an open transaction."""

    def get_reset_query(self) -> str:
        return ""


# The engine every table uses. Piccolo finds it through backend.piccolo_conf (its
# migration runner asks there); tables are given it when they are defined, and `bind`
# hands them another one when the app or the CLI configures the database.
_engine: Engine | None = None

REPORTS = "reports"  # the engine node read-only reports run on

# See planned_once_pool. The stored screens' reads keep one statement in flight per
# process (store.coalesce); a second connection lets one open while the other is busy.
PLANNED_ONCE_CONNECTIONS = 2
# By engine: a test's engine and its app's are two, each closing its own. The engine is
# kept beside its pool (Piccolo's engines take no weak references) so that its id is
# not reused by another engine, which would then find a pool of a closed event loop.
_planned_once: dict[int, tuple[Engine, asyncpg.Pool]] = {}


def make_engine(url: str, reports_url: str = "") -> Engine:
    if url.startswith("sqlite:///"):
        return SQLiteEngine(path=url.removeprefix("sqlite:///"), timeout=SQLITE_BUSY_TIMEOUT_S)
    replica = {REPORTS: PostgresEngine(config={"dsn": reports_url})} if reports_url else {}
    return PostgresEngine(config={"dsn": url}, log_queries=False, extra_nodes=replica)


def reports_node() -> str | None:
    """Where a read-only report runs: the replica when one is configured (Piccolo's
    `run(node=…)`), else the primary. A replica lags by its replay delay, which
    month-level reports tolerate; nothing that a user has just written reads there."""
    engine = current_engine()
    return REPORTS if isinstance(engine, PostgresEngine) and engine.extra_nodes else None


def bind(engine: Engine) -> Engine:
    """Make `engine` the one every table and Piccolo's migration runner use."""
    global _engine
    if isinstance(engine, SQLiteEngine):
        Path(engine.path).parent.mkdir(parents=True, exist_ok=True)
    from piccolo.apps.migrations.tables import Migration

    from backend.store.tables import TABLES

    _engine = engine
    for table in (*TABLES, Migration):
        table._meta.db = engine
    return engine


def current_engine() -> Engine:
    """The bound engine; until something binds one, the environment's database."""
    global _engine
    if _engine is None:
        _engine = make_engine(database_url())
    return _engine


async def open_engine(settings: Settings) -> Engine:
    """Bind and connect: a pool on PostgreSQL, WAL mode on SQLite. The pool opens its
    connections as they are needed, so a server or a worker that starts while PostgreSQL
    is down (a node rebooting, a failover under way) starts anyway and answers 503 or
    waits, as it would had the database gone away later."""
    engine = bind(make_engine(settings.database_url, settings.reports_database_url))
    if isinstance(engine, PostgresEngine):
        for node in (engine, *engine.extra_nodes.values()):
            await node.start_connection_pool(
                min_size=0, max_size=settings.db_pool_size, connection_class=_Connection
            )
        pool = await asyncpg.create_pool(
            settings.database_url,
            min_size=0,
            max_size=PLANNED_ONCE_CONNECTIONS,
            connection_class=_Connection,
            server_settings={"plan_cache_mode": "force_generic_plan"},
        )
        _planned_once[id(engine)] = (engine, pool)
    else:
        # WAL lets readers go on while one writer writes; it persists in the file.
        await engine._run_in_new_connection("PRAGMA journal_mode=WAL")
    return engine


def planned_once_pool() -> asyncpg.Pool | None:
    """Connections whose statements are planned once, when first prepared, not at every
    call (PostgreSQL's plan_cache_mode = force_generic_plan), for the hottest read, which
    is written to have one good plan whatever its arguments: the stored screens' batch
    (store.screens). PostgreSQL would otherwise plan it afresh at every call (its arrays'
    lengths vary), which costs more than running it. None on SQLite."""
    kept = _planned_once.get(id(current_engine()))
    return kept[1] if kept is not None else None


async def close_engine(engine: Engine) -> None:
    kept = _planned_once.pop(id(engine), None)
    if kept is not None:
        await kept[1].close()
    if isinstance(engine, PostgresEngine):
        for node in (engine, *engine.extra_nodes.values()):
            if node.pool is not None:
                await node.close_connection_pool()


@asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A transaction for a change. On SQLite it takes the write lock up front
    (BEGIN IMMEDIATE), so two writers queue instead of deadlocking on upgrade."""
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate) as tx:
            yield tx
    else:
        async with _postgres_transaction(engine) as tx:
            yield tx


@asynccontextmanager
async def _postgres_transaction(engine: PostgresEngine) -> AsyncIterator[PostgresTransaction]:
    """Piccolo's transaction, made safe for a database that goes away: Piccolo's own
    exit skips releasing the connection and resetting the task's current transaction
    when the rollback fails (the connection is dead), which leaks a pool slot and leaves
    a long-lived task (the worker) running every later query on the dead connection.
    Here a dead connection is terminated and always released, so the pool reconnects."""
    current = engine.current_transaction.get()
    if current is not None:  # nested: part of the outer transaction, as in Piccolo
        yield current
        return
    assert engine.pool is not None, "open_engine() starts the pool"
    tx = PostgresTransaction(engine)
    tx.connection = conn = await engine.pool.acquire()
    token = None
    try:
        tx.transaction = conn.transaction()
        await tx.begin()
        token = engine.current_transaction.set(tx)
        try:
            yield tx
        except BaseException:
            if not tx._rolled_back:
                try:
                    await tx.rollback()
                except Exception:
                    conn.terminate()  # cannot roll back: the connection is no good
            raise
        if not tx._committed and not tx._rolled_back:
            await tx.commit()
    except BaseException as exc:
        if is_unavailable(exc) and not conn.is_closed():
            conn.terminate()
        raise
    finally:
        if token is not None:
            engine.current_transaction.reset(token)
        await engine.pool.release(conn)


def is_postgres() -> bool:
    return isinstance(current_engine(), PostgresEngine)


async def ping() -> None:
    """Raises if the database does not answer."""
    from backend.store.tables import Event

    await Event.raw("SELECT 1").run()

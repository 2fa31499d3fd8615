"""Plain SQL for the hot paths (the recording's reads and writes): statements written
out, with Piccolo's `{}` placeholders, so that a statement costs its round trip and
not the building of a query. Both engines read them (PostgreSQL and SQLite share
`INSERT … ON CONFLICT`, `RETURNING` and `excluded.`)."""

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from asyncpg import Pool
from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from backend.store.engine import current_engine, planned_once_pool


def marks(n: int) -> str:
    """`{}, {}, …`: n placeholders, for an IN list."""
    return ", ".join("{}" for _ in range(n))


def rows_of(n_rows: int, n_columns: int) -> str:
    """`({}, {}), ({}, {}), …`: the VALUES of a multi-row INSERT."""
    row = f"({marks(n_columns)})"
    return ", ".join(row for _ in range(n_rows))


def insert(table: str, columns: Sequence[str], n_rows: int) -> str:
    """`INSERT INTO table (columns) VALUES …` for n rows."""
    values = rows_of(n_rows, len(columns))
    return f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES {values}'  # noqa: S608 (names are ours)


def update_set(columns: Sequence[str]) -> str:
    """`SET a = {}, b = {}` for an UPDATE."""
    return "SET " + ", ".join(f"{c} = {{}}" for c in columns)


def excluded(columns: Sequence[str]) -> str:
    """`a = excluded.a, …`: an upsert's DO UPDATE SET list."""
    return ", ".join(f"{c} = excluded.{c}" for c in columns)


@lru_cache(maxsize=256)
def _numbered(query: str) -> str:
    """Piccolo's `{}` placeholders as asyncpg's `$1, $2, …` (our statements hold no
    other braces). Kept for the hot statements: constants, or one per row count."""
    parts = query.split("{}")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


def read_pool() -> Pool | None:
    """The PostgreSQL connections whose statements are planned once
    (`engine.planned_once_pool`), for a read outside any transaction (inside one, the
    read must use the transaction's connection); None on SQLite or inside a transaction.
    Only for statements written to have one good plan whatever their arguments."""
    engine = current_engine()
    if isinstance(engine, PostgresEngine) and engine.current_transaction.get() is None:
        return planned_once_pool()
    return None


async def fetch_one(query: str, *args: Any) -> Mapping[str, Any] | None:
    """The first row of a read, for the hottest reads: on PostgreSQL outside a
    transaction straight from `read_pool`, where asyncpg keeps the statement prepared
    and planned (no query building, no row copying, no planning per call); elsewhere
    through Piccolo."""
    pool = read_pool()
    if pool is not None:
        return await pool.fetchrow(_numbered(query), *args)
    rows = await current_engine().run_querystring(QueryString(query, *args))
    return rows[0] if rows else None


async def fetch_pooled(pool: Pool, query: str, *args: Any) -> list[Mapping[str, Any]]:
    """Every row of a read straight from `read_pool`, prepared and planned once."""
    return await pool.fetch(_numbered(query), *args)


async def run(query: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of a statement, as `Table.raw` gives them, for the hot statements (the
    recording's, a patient request's session and key): on PostgreSQL sent straight on
    the transaction's connection, or outside one on a connection of the engine's pool
    (asyncpg keeps it prepared), without building a Piccolo query for each; elsewhere
    (SQLite, an engine whose pool is not started) through Piccolo."""
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        if tx := engine.current_transaction.get():
            return [dict(r) for r in await tx.connection.fetch(_numbered(query), *args)]
        if engine.pool is not None:
            return [dict(r) for r in await engine.pool.fetch(_numbered(query), *args)]
    rows = await engine.run_querystring(QueryString(query, *args))
    return engine.transform_response_to_dicts(rows) if rows else []


async def run_together(statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Writes that do not read each other's rows, in order (`run` each): on PostgreSQL
    as one statement (all but the last as its WITH: one round trip), on SQLite (which
    writes nothing in a WITH) one by one."""
    if isinstance(current_engine(), PostgresEngine) and len(statements) > 1:
        parts = [f'"w{n}" AS ({query})' for n, (query, _) in enumerate(statements[:-1])]
        await run(
            f"WITH {', '.join(parts)} {statements[-1][0]}",
            *(a for _, args in statements for a in args),
        )
        return
    for query, args in statements:
        await run(query, *args)

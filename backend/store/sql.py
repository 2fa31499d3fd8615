"""Plain SQL for the hot paths (the recording's reads and writes): statements written
out, with Piccolo's `{}` placeholders, so that a statement costs its round trip and
not the building of a query. Both engines read them (PostgreSQL and SQLite share
`INSERT … ON CONFLICT`, `RETURNING` and `excluded.`)."""

from collections.abc import Sequence


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

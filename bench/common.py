"""What every benchmark shares: the machine it ran on, and RESULTS.md."""

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

RESULTS = Path(__file__).parent / "RESULTS.md"


def machine() -> str:
    cores = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        memory = "?"
    try:
        git = ["git", "rev-parse", "--short", "HEAD"]
        commit = subprocess.run(git, capture_output=True, text=True, check=False)
        commit = commit.stdout.strip()
        status = ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!*.md"]
        if subprocess.run(status, capture_output=True, text=True, check=False).stdout.strip():
            commit += " with uncommitted changes"
    except OSError:
        commit = "?"
    return (
        f"{platform.machine()}, {cores} cores, {memory}; Python "
        f"{platform.python_version()}; commit {commit}"
    )


async def pg_version(url: str) -> str:
    """The PostgreSQL server's version, as it reports it (for the results)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return "PostgreSQL " + await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


def record(title: str, lines: list[str]) -> None:
    """Print and append to bench/RESULTS.md (each run appends: the history shows)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        f"## {title} — {stamp}",
        "",
        f"- machine: {machine()}",
        f"- command: `{' '.join(sys.argv)}`",
        *(f"- {line}" for line in lines),
        "",
    ]
    print("\n".join(block))
    with open(RESULTS, "a") as f:
        f.write("\n".join(block) + "\n")


__all__ = ["median", "record"]

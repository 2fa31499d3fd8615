"""Two real server processes on one database share one budget: the count lives in the
database, not in either process."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from backend.settings import Settings
from tests.live_server import serve

BUDGET = 12


@contextmanager
def server(db: Settings, tmp_path: Path, name: str) -> Iterator[str]:
    var_dir = tmp_path / name
    var_dir.mkdir()
    limits = {
        "PLANTRACK_RATE_LIMIT_AUTH": str(BUDGET),
        "PLANTRACK_RATE_LIMIT_WINDOW_SECONDS": "3600",  # no window ends during the test
    }
    with serve(db, var_dir, limits) as base:
        yield base


async def test_two_processes_accept_exactly_one_budget(db, tmp_path):
    with server(db, tmp_path, "a") as first, server(db, tmp_path, "b") as second:
        async with httpx.AsyncClient(timeout=60) as client:

            async def sign_in(base: str) -> int:
                response = await client.post(
                    f"{base}/api/v1/auth/patient", json={"firebase_id_token": "not-a-token"}
                )
                if response.status_code == 429:
                    assert response.headers["retry-after"]
                return response.status_code

            statuses = await asyncio.gather(
                *(sign_in(first if i % 2 else second) for i in range(3 * BUDGET))
            )
    counted = Counter(statuses)
    # Accepted means the request reached the route (which then refused the bad token).
    assert counted == {401: BUDGET, 429: 2 * BUDGET}, counted

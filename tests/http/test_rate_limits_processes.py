"""Two real server processes on one database share one budget: the count lives in the
database, not in either process."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from backend.settings import Settings

BUDGET = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(db: Settings, tmp_path: Path, name: str) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PLANTRACK_ENV": "dev",
        "PLANTRACK_DATABASE_URL": db.database_url,
        "PLANTRACK_SECRET_KEY": db.secret_key,
        "PLANTRACK_VAR_DIR": str(tmp_path),
        "PLANTRACK_LOG_LEVEL": "WARNING",
        "PLANTRACK_RATE_LIMIT_AUTH": str(BUDGET),
        "PLANTRACK_RATE_LIMIT_WINDOW_SECONDS": "3600",  # no window ends during the test
    }
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "backend.app:create_app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    pytest.fail(f"server exited: {log_path.read_text()}")
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)


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

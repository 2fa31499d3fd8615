"""The app as a real server process: uvicorn in a subprocess on a loopback port, against
a test's database. Browser and fuzzing tests talk to it over real HTTP."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from backend.settings import Settings
from tests.pg_cluster import free_port


@contextmanager
def serve(db: Settings, var_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start the server, wait until it is ready, yield its base URL; stop it after."""
    port = free_port()
    environment = {
        **os.environ,
        "PLANTRACK_ENV": "dev",
        "PLANTRACK_DATABASE_URL": db.database_url,
        "PLANTRACK_SECRET_KEY": db.secret_key,
        "PLANTRACK_VAR_DIR": str(var_dir),
        "PLANTRACK_MEDIA_DIR": db.media_dir,
        "PLANTRACK_LOG_LEVEL": "WARNING",
        "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
        **(env or {}),
    }
    log_path = var_dir / "server.log"
    command = [sys.executable, "-m", "uvicorn", "backend.app:create_app_from_env", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    if httpx.get(f"{base}/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None:
                    pytest.fail(f"server exited: {log_path.read_text()}")
                time.sleep(0.1)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=10)

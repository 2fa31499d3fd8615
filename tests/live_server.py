"""The app as a real server process: uvicorn in a subprocess on a loopback port, against
a test's database. Browser, fuzzing, crash and outage tests talk to it over real HTTP."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import msgspec

from backend.settings import Settings
from tests.pg_cluster import free_port
from tests.pictures import environment


class ServerProcess:
    """`uvicorn backend.app:create_app_from_env` on a fixed loopback port, so that a
    restarted server is found where the clients left it."""

    def __init__(self, settings: Settings, work: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / "server.log"
        self.env = {
            **os.environ,
            "PLANTRACK_ENV": "dev",
            # The test's database and media store (its bucket when it runs on one).
            **environment(settings),
            "PLANTRACK_VAR_DIR": str(work),
            "PLANTRACK_DB_POOL_SIZE": "4",
            "PLANTRACK_LOG_LEVEL": "WARNING",
            "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
            **extra_env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "backend.app:create_app_from_env",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--no-access-log",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError("server did not become ready in 30 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no draining, nothing flushed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_lines(self, message: str) -> list[dict]:
        found = []
        for line in self.log.read_text().splitlines():
            entry = msgspec.json.decode(line) if line.startswith("{") else {}
            if entry.get("msg") == message:
                found.append(entry)
        return found


class WorkerProcess:
    """`plantrack worker` in a subprocess, against the same database as a ServerProcess
    (its settings and environment), logging to `worker.log`."""

    def __init__(self, server: ServerProcess, work: Path, name: str = "worker") -> None:
        self.env = {**server.env, "PLANTRACK_EMBEDDED_WORKER": "0"}
        self.log = work / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "backend.cli", "worker", "--interval", "0.2"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: the messages it holds stay leased until their lease runs out."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def serve(db: Settings, var_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start the server, wait until it is ready, yield its base URL; stop it after."""
    server = ServerProcess(db, var_dir, **(env or {}))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()

"""A throwaway PostgreSQL cluster in a temp dir, listening on loopback only.

Used by the test suite (when no PLANTRACK_TEST_POSTGRES_URL is given) and by the
benchmarks. initdb refuses to run as root, so as root the cluster runs as the
`postgres` user.

    python -m tests.pg_cluster start DIR   # prints the URL
    python -m tests.pg_cluster stop DIR
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

USER = "plantrack"


def find_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    raise RuntimeError(
        f"{name} not found: install PostgreSQL server binaries (apt-get install postgresql)"
    )


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(base: Path, port: int | None = None, extra_conf: str = "") -> str:
    """Create and start a cluster under `base`; return a postgresql:// URL."""
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    port = port or free_port()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    subprocess.run(
        _as_owner(
            [
                find_bin("initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        **run,
    )
    conf = (
        f"listen_addresses = '127.0.0.1'\nport = {port}\n"
        f"unix_socket_directories = '{base}'\n"
        # A throwaway cluster: durability buys nothing here, speed does.
        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        "max_connections = 200\nshared_buffers = 128MB\n" + extra_conf
    )
    with open(data / "postgresql.conf", "a") as f:
        f.write(conf)
    subprocess.run(
        _as_owner(
            [
                find_bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        **run,
    )
    return f"postgresql://{USER}@127.0.0.1:{port}/postgres"


def start_replica(primary_url: str, base: Path) -> str:
    """A hot standby of the cluster at `primary_url`, streaming from it, under `base`
    (pg_basebackup -R writes the standby settings); returns its postgresql:// URL."""
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    host, primary_port = primary_url.split("@", 1)[1].split("/", 1)[0].split(":")
    data, port = base / "data", free_port()
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    backup = [find_bin("pg_basebackup"), "-h", host, "-p", primary_port, "-U", USER]
    subprocess.run(_as_owner([*backup, "-D", str(data), "-R", "-X", "stream", "-c", "fast"]), **run)
    with open(data / "postgresql.conf", "a") as f:
        f.write(f"\nport = {port}\nunix_socket_directories = '{base}'\nhot_standby = on\n")
    pg_ctl = [find_bin("pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60"]
    subprocess.run(_as_owner([*pg_ctl, "start"]), **run)
    return f"postgresql://{USER}@127.0.0.1:{port}/postgres"


def halt(base: Path) -> None:
    """Stop the server as an outage would (fast: open sessions are terminated), keeping
    its data, port and settings for `resume`."""
    pg_ctl = [find_bin("pg_ctl"), "-D", str(base / "data"), "-m", "fast", "-w", "-t", "60"]
    subprocess.run(_as_owner([*pg_ctl, "stop"]), check=True, stdout=subprocess.DEVNULL)


def resume(base: Path) -> None:
    """Start a halted server again, on the same port with the same data."""
    pg_ctl = [find_bin("pg_ctl"), "-D", str(base / "data"), "-l", str(base / "log"), "-w"]
    subprocess.run(_as_owner([*pg_ctl, "-t", "60", "start"]), check=True, stdout=subprocess.DEVNULL)


def crash(base: Path) -> None:
    """Kill the server as a crash would (immediate: no shutdown checkpoint, sessions cut);
    its data stays for `resume`, which then recovers from the WAL."""
    pg_ctl = [find_bin("pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "-w", "-t", "60"]
    subprocess.run(_as_owner([*pg_ctl, "stop"]), check=True, stdout=subprocess.DEVNULL)


def promote(base: Path) -> None:
    """Make a standby the primary (it stops replaying and takes writes)."""
    pg_ctl = [find_bin("pg_ctl"), "-D", str(base / "data"), "-w", "-t", "60"]
    subprocess.run(_as_owner([*pg_ctl, "promote"]), check=True, stdout=subprocess.DEVNULL)


def stop(base: Path) -> None:
    data = base / "data"
    if data.exists():
        subprocess.run(
            _as_owner([find_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    shutil.rmtree(base, ignore_errors=True)


def temp_base() -> Path:
    return Path(tempfile.mkdtemp(prefix="plantrack-pg-"))


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "start":
        print(start(where))
    elif command == "stop":
        stop(where)
    else:
        sys.exit(f"unknown command {command}")

"""Worker processes against one database and the fake FCM: several share the outbox
without sending anything twice, and a killed one loses nothing."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from uuid import uuid4

import msgspec
import pytest

from backend.runtime.clock import utcnow
from backend.store import outbox
from backend.store.tables import Outbox
from tests.fakes.fcm import FakeFcm, RunningFake
from tests.fakes.service_account import write_key


@pytest.fixture
def fake_fcm():
    with RunningFake() as fake:
        yield fake


def worker_env(db, fake: FakeFcm, tmp_path: Path) -> dict[str, str]:
    key = write_key(tmp_path / "key.json", token_uri=f"{fake.base_url}/token")
    return {
        **os.environ,
        "PLANTRACK_DATABASE_URL": db.database_url,
        "PLANTRACK_SECRET_KEY": db.secret_key,
        "PLANTRACK_VAR_DIR": str(tmp_path),
        "GOOGLE_APPLICATION_CREDENTIALS": str(key),
        "PLANTRACK_FCM_ENDPOINT": fake.base_url,
        "PLANTRACK_FIREBASE_PROJECT_ID": "plantrack-test",
        "PLANTRACK_WORKER_LEASE_SECONDS": "3",
        "PLANTRACK_LOG_LEVEL": "INFO",
    }


def start_worker(env: dict[str, str], log: Path, batch: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "worker", "--interval", "0.2", "--batch", str(batch)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),
    )


async def enqueue_pushes(
    n: int, prefix: str, *, now: datetime | None = None, ttl_seconds: int = 3600
) -> None:
    now = now or utcnow()
    for i in range(n):
        await outbox.enqueue(
            topic="push",
            payload={
                "device_id": str(uuid4()),
                "address": f"{prefix}-{i}",
                "address_kind": "fcm_token",
                "title": "t",
                "body": "b",
                "data": {"kind": "question", "notification_id": str(i)},
                "collapse_key": "r",
                "tag": f"n{i}",
                "ttl_seconds": ttl_seconds,
                "urgent": False,
            },
            dedupe_key=f"push:{prefix}:{i}",
            now=now,
        )


async def wait_all_done(n: int, within: float = 90) -> dict[str, int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        counts = await outbox.count_by_status()
        if counts.get("done", 0) == n:
            return counts
        await _sleep(0.3)
    return await outbox.count_by_status()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def handled_by(log: Path) -> int:
    total = 0
    for line in log.read_text().splitlines():
        entry = msgspec.json.decode(line) if line.startswith("{") else {}
        total += entry.get("handled", 0) if entry.get("msg") == "worker batch" else 0
    return total


async def test_two_workers_share_the_outbox_and_send_each_message_once(db, fake_fcm, tmp_path):
    n = 400
    await enqueue_pushes(n, "ok")
    env = worker_env(db, fake_fcm, tmp_path)
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    workers = [start_worker(env, log, batch=40) for log in logs]
    try:
        counts = await wait_all_done(n)
    finally:
        for w in workers:
            w.terminate()
            w.wait(timeout=10)
    assert counts == {"done": n}
    tags = Counter(m["android"]["notification"]["tag"] for m in fake_fcm.received)
    assert len(tags) == n and set(tags.values()) == {1}  # every message once, none twice
    # Both took part (each logs its batches; the last line may be cut by the terminate).
    shares = [handled_by(log) for log in logs]
    assert min(shares) > 0 and sum(shares) <= n, shares


async def test_a_killed_worker_loses_nothing_and_doubles_nothing_on_screen(db, fake_fcm, tmp_path):
    n = 150
    await enqueue_pushes(n, "slow")  # the fake answers each after 0.5 s
    env = worker_env(db, fake_fcm, tmp_path)
    first = start_worker(env, tmp_path / "first.log", batch=30)
    deadline = time.monotonic() + 30
    while len(fake_fcm.received) < 40 and time.monotonic() < deadline:
        await _sleep(0.05)
    first.send_signal(signal.SIGKILL)  # mid-batch: sent, not yet recorded
    first.wait(timeout=10)
    received_before = len(fake_fcm.received)
    second = start_worker(env, tmp_path / "second.log", batch=30)
    try:
        counts = await wait_all_done(n)
    finally:
        second.terminate()
        second.wait(timeout=10)
    assert counts == {"done": n}  # nothing lost
    tags = Counter(m["android"]["notification"]["tag"] for m in fake_fcm.received)
    assert set(tags) == {f"n{i}" for i in range(n)}
    repeats = {tag: c for tag, c in tags.items() if c > 1}
    # A repeat is a message the killed worker had sent but not recorded; it carries the
    # same tag, so the phone replaces the notification instead of showing it twice.
    assert len(repeats) <= 30 and all(c == 2 for c in repeats.values())
    rows = await Outbox.select(Outbox.status, Outbox.attempts).where(Outbox.topic == "push")
    assert sum(r["attempts"] == 2 for r in rows) >= len(repeats)
    print(f"killed after {received_before} sends; {len(repeats)} re-sent with the same tag")

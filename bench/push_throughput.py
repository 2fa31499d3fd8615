"""Pushes per second through the whole path — outbox → worker → firebase-admin →
FCM (a local fake in its own process) — beside raw httpx posts to the same fake.

    python -m bench.push_throughput [--messages 10000] [--runs 3] [--sqlite]
"""

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

import httpx

from bench.common import median, record, sized
from tests import pg_cluster
from tests.fakes.service_account import write_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str) -> None:
    for _ in range(100):
        try:
            httpx.post(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def fcm_body(i: int) -> dict:
    return {
        "message": {
            "token": f"ok-{i}",
            "notification": {"title": "t", "body": "b"},
            "data": {"kind": "question"},
            "android": {"collapse_key": "r", "ttl": "3600s", "notification": {"tag": f"n{i}"}},
        }
    }


async def raw_posts(base: str, n: int, concurrency: int) -> float:
    url = f"{base}/v1/projects/bench/messages:send"
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as c:
        started = time.perf_counter()
        for start in range(0, n, concurrency):
            await asyncio.gather(
                *(
                    c.post(url, json=fcm_body(i), headers={"Authorization": "Bearer x"})
                    for i in range(start, min(n, start + concurrency))
                )
            )
        return n / (time.perf_counter() - started)


async def through_outbox(database_url: str, key: Path, base: str, n: int, fcm_batch: int) -> float:
    from backend.outbox.worker import handlers, run_once
    from backend.push.fcm import FcmSender
    from backend.settings import load_settings
    from backend.store.engine import close_engine, open_engine
    from backend.store.tables import Outbox

    settings = load_settings(
        {
            "PLANTRACK_DATABASE_URL": database_url,
            "PLANTRACK_VAR_DIR": str(key.parent),
            "PLANTRACK_SECRET_KEY": "b" * 40,
        }
    )
    engine = await open_engine(settings)
    now = __import__("backend.runtime.clock", fromlist=["utcnow"]).utcnow()
    import msgspec

    rows = [
        Outbox(
            topic="push",
            dedupe_key=f"bench:{uuid4()}",
            status="pending",
            available_at=now,
            created_at=now,
            payload=msgspec.json.encode(
                {
                    "device_id": str(uuid4()),
                    "address": f"ok-{i}",
                    "address_kind": "fcm_token",
                    "title": "t",
                    "body": "b",
                    "data": {"kind": "question"},
                    "collapse_key": "r",
                    "tag": f"n{i}",
                    "ttl_seconds": 3600,
                    "urgent": False,
                }
            ).decode(),
        )
        for i in range(n)
    ]
    for start in range(0, n, 1000):
        await Outbox.insert(*rows[start : start + 1000])
    sender = FcmSender(
        credentials_path=str(key), project_id="bench", endpoint=base, batch=fcm_batch
    )
    topic = handlers(sender)
    started = time.perf_counter()
    done = 0
    while done < n:
        done += await run_once(topic, worker="bench", batch=500)
    rate = n / (time.perf_counter() - started)
    await sender.aclose()
    await close_engine(engine)
    return rate


async def migrate(url: str, var: Path) -> None:
    from backend.cli import migrate as run_migrations
    from backend.settings import load_settings

    await run_migrations(
        load_settings(
            {
                "PLANTRACK_DATABASE_URL": url,
                "PLANTRACK_VAR_DIR": str(var),
                "PLANTRACK_SECRET_KEY": "b" * 40,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument(
        "--fcm-batch",
        type=int,
        default=50,
        help="messages per send_each_async call (all sent at once)",
    )
    args = sized(
        parser,
        smoke={"messages": 200, "runs": 1},
    )

    work = Path(tempfile.mkdtemp(prefix="plantrack-bench-"))
    port = free_port()
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.fcm", str(port)])
    base = f"http://127.0.0.1:{port}"
    cluster = None
    try:
        wait_for(f"{base}/token")
        key = write_key(work / "key.json", token_uri=f"{base}/token", project_id="bench")
        if args.sqlite:
            url_for = lambda run: f"sqlite:///{work / f'bench{run}.sqlite3'}"  # noqa: E731
        else:
            cluster = pg_cluster.temp_base()
            server = pg_cluster.start(cluster)
            import asyncpg

            async def create(name: str) -> None:
                conn = await asyncpg.connect(server)
                await conn.execute(f'CREATE DATABASE "{name}"')
                await conn.close()

            def url_for(run: int) -> str:
                asyncio.run(create(f"bench{run}"))
                return server.rsplit("/", 1)[0] + f"/bench{run}"

        outbox_rates, raw_rates = [], []
        for run in range(args.runs):
            url = url_for(run)
            asyncio.run(migrate(url, work))
            outbox_rates.append(
                asyncio.run(through_outbox(url, key, base, args.messages, args.fcm_batch))
            )
            # The raw ceiling at its best: the fake is one process and httpx's pool slows
            # with hundreds in flight, so try a few levels and keep the fastest.
            levels = {c: asyncio.run(raw_posts(base, args.messages, c)) for c in (10, 50, 500)}
            raw_rates.append(max(levels.values()))
            print(
                f"run {run + 1}: outbox path {outbox_rates[-1]:.0f}/s, raw httpx "
                + ", ".join(f"{v:.0f}/s at {c} in flight" for c, v in levels.items()),
                flush=True,
            )
        ours, raw = median(outbox_rates), median(raw_rates)
        record(
            "push throughput",
            [
                f"database: {'SQLite' if args.sqlite else 'PostgreSQL 15'}; {args.messages} "
                f"messages per run, {args.runs} runs, fake FCM in its own process, "
                f"{args.fcm_batch} messages per send_each_async call",
                f"outbox → worker → firebase-admin → fake FCM: median {ours:.0f} msg/s "
                f"(runs: {', '.join(f'{r:.0f}' for r in outbox_rates)})",
                f"raw httpx posts, best of 10/50/500 in flight: median {raw:.0f} msg/s "
                f"(runs: {', '.join(f'{r:.0f}' for r in raw_rates)})",
                f"ratio outbox path / raw posts: {ours / raw:.2f}",
            ],
        )
    finally:
        fake.terminate()
        if cluster is not None:
            pg_cluster.stop(cluster)


if __name__ == "__main__":
    main()

"""Signed-webhook ingestion: MIS events per second through the real server (signature
check, raw inbox row with the webhook-id as idempotency key, outbox row, 202), then
through the worker into the ledger as claims — beside plain one-row inserts of the same
bodies into the same PostgreSQL at the same concurrency.

    python -m bench.webhook_ingest [--events 5000] [--concurrency 32] [--runs 3] [--batch 500]

One server process (uvicorn, one worker) and the load generator share the 2 cores; a
tenth of the deliveries are repeats (a sender's retries), which must be recorded once.
The worker claims `--batch` messages a poll, as `plantrack worker --batch` does (its
default, 500).
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse
from uuid import uuid4

import httpx
from standardwebhooks import Webhook

from bench.common import median, record, sized
from bench.push_throughput import free_port
from tests import pg_cluster

SECRET_KEY = "b" * 40
REFERRALS = 200


def settings_env(url: str, var: Path, port: int) -> dict[str, str]:
    return {
        "PLANTRACK_DATABASE_URL": url,
        "PLANTRACK_VAR_DIR": str(var),
        "PLANTRACK_SECRET_KEY": SECRET_KEY,
        "PLANTRACK_PORT": str(port),
        "PLANTRACK_LOG_LEVEL": "WARNING",
        # The integration's budget (6,000 a minute by default) is below the rate measured
        # here: the check runs on every delivery, as in production, but never refuses.
        "PLANTRACK_RATE_LIMIT_WEBHOOKS": str(10**9),
    }


async def prepare(url: str, var: Path, port: int) -> tuple[str, str, list[str]]:
    """Migrate, add a clinic connected by signed webhooks and referrals to report on."""
    from backend.cli import migrate
    from backend.domain.integration_settings import IntegrationIn
    from backend.services.integration_setup import configure
    from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, send_referral
    from backend.settings import load_settings
    from backend.store import parties
    from backend.store.engine import close_engine, open_engine

    settings = load_settings(settings_env(url, var, port))
    await migrate(settings)
    engine = await open_engine(settings)
    clinic_id = uuid4()
    await parties.insert_clinic(
        clinic_id=clinic_id,
        name="Бенч",
        city="Москва",
        district=None,
        timezone="Europe/Moscow",
        address="",
        phone="+74950000000",
        now=datetime.now(UTC),
    )
    done = await configure(
        clinic_id,
        json_to(IntegrationIn, {"system": "webhook"}),
        secret_key=SECRET_KEY,
        public_url=f"http://127.0.0.1:{port}",
    )
    referral_ids = []
    for i in range(REFERRALS):
        sent = await send_referral(
            patient=PatientIn(phone=f"+7916{i:07d}", name="Пациент"),
            clinic_id=clinic_id,
            plan=PlanIn(items=[PlanItemIn(specialization="therapy", price=10_000_000)]),
            actor="bench",
        )
        referral_ids.append(str(sent.referral_id))
    await close_engine(engine)
    path = urlparse(done.integration.inbound_url).path
    return path, done.signing_secret or "", referral_ids


def json_to(type_, value):
    import msgspec

    return msgspec.convert(value, type_)


def deliveries(secret: str, referral_ids: list[str], n: int) -> list[tuple[bytes, dict]]:
    """n deliveries, signed as a sender would; every tenth one a repeat of an earlier."""
    hook = Webhook(secret)
    out: list[tuple[bytes, dict]] = []
    for i in range(n):
        if i % 10 == 9:
            out.append(out[i // 2])
            continue
        msg_id = f"msg_{uuid4().hex}"
        now = datetime.now(UTC)
        body = json.dumps(
            {
                "type": "payment.received",
                "timestamp": now.isoformat(),
                "data": {"referral_id": referral_ids[i % len(referral_ids)], "amount": 100},
            }
        )
        out.append(
            (
                body.encode(),
                {
                    "content-type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": hook.sign(msg_id, now, body),
                },
            )
        )
    return out


async def post_all(base: str, path: str, items: list[tuple[bytes, dict]], concurrency: int):
    statuses: dict[int | str, int] = {}
    queue = iter(items)

    async def sender(client: httpx.AsyncClient) -> None:
        for body, headers in queue:
            for _ in range(5):  # as a sender does: the same webhook-id again
                try:
                    answer = await client.post(path, content=body, headers=headers)
                except httpx.TransportError as exc:
                    name = type(exc).__name__
                    statuses[name] = statuses.get(name, 0) + 1
                    continue
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                break

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        return len(items) / (time.perf_counter() - started), statuses


async def bare(base: str, n: int, concurrency: int) -> float:
    """The same load generator against GET /health: this server's ceiling here."""
    queue = iter(range(n))

    async def getter(client: httpx.AsyncClient) -> None:
        for _ in queue:
            (await client.get("/health")).raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(getter(client) for _ in range(concurrency)))
        return n / (time.perf_counter() - started)


async def drain(url: str, var: Path, port: int, batch: int) -> tuple[float, int, int]:
    """Run the worker until the inbox is processed: events/s into the ledger."""
    from backend.outbox.worker import handlers, run_once
    from backend.settings import load_settings
    from backend.store.engine import close_engine, open_engine
    from backend.store.tables import Event, Inbox

    settings = load_settings(settings_env(url, var, port))
    engine = await open_engine(settings)
    topics = {k: v for k, v in handlers(None, SECRET_KEY).items() if k == "inbox"}
    started = time.perf_counter()
    handled = 0
    while n := await run_once(topics, worker="bench", batch=batch):
        handled += n
    seconds = time.perf_counter() - started
    inbox_rows = await Inbox.count()
    payments = await Event.count().where(Event.kind == "payment")
    await close_engine(engine)
    return handled / seconds, inbox_rows, payments


async def plain_inserts(url: str, items: list[tuple[bytes, dict]], concurrency: int) -> float:
    """The same bodies and headers, one row per transaction, no checks, no keys."""
    import asyncpg

    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS plain_delivery (id bigserial PRIMARY KEY, "
        "headers jsonb NOT NULL, body text NOT NULL, received_at timestamptz NOT NULL)"
    )
    queue = iter(items)

    async def writer() -> None:
        for body, headers in queue:
            async with pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO plain_delivery (headers, body, received_at) "
                    "VALUES ($1, $2, now())",
                    json.dumps(headers),
                    body.decode(),
                )

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    rate = len(items) / (time.perf_counter() - started)
    await pool.close()
    return rate


def runs(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def wait_for(base: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="messages the worker claims a poll")
    args = sized(
        parser,
        smoke={"events": 100, "concurrency": 8, "runs": 1},
    )

    work = Path(tempfile.mkdtemp(prefix="plantrack-bench-"))
    cluster = pg_cluster.temp_base()
    server_url = pg_cluster.start(cluster, extra_conf="max_connections = 200")
    ingest, process, plain, ceiling = [], [], [], []
    try:
        for run in range(args.runs):
            import asyncpg

            async def create(name: str) -> None:
                conn = await asyncpg.connect(server_url)
                await conn.execute(f'CREATE DATABASE "{name}"')
                await conn.close()

            asyncio.run(create(f"ingest{run}"))
            url = server_url.rsplit("/", 1)[0] + f"/ingest{run}"
            port = free_port()
            path, secret, referral_ids = asyncio.run(prepare(url, work, port))
            items = deliveries(secret, referral_ids, args.events)
            unique = len({h["webhook-id"] for _, h in items})
            env = {**os.environ, **settings_env(url, work, port)}
            server = subprocess.Popen(
                [sys.executable, "-m", "backend.cli", "serve", "--workers", "1"], env=env
            )
            base = f"http://127.0.0.1:{port}"
            try:
                wait_for(base)
                rate, statuses = asyncio.run(post_all(base, path, items, args.concurrency))
                ceiling.append(asyncio.run(bare(base, len(items), args.concurrency)))
            finally:
                server.terminate()
                server.wait()
            ingest.append(rate)
            worker_rate, inbox_rows, payments = asyncio.run(drain(url, work, port, args.batch))
            process.append(worker_rate)
            plain.append(asyncio.run(plain_inserts(url, items, args.concurrency)))
            ok = inbox_rows == unique == payments
            print(
                f"run {run + 1}: ingest {rate:.0f}/s {statuses}, worker {worker_rate:.0f}/s, "
                f"plain inserts {plain[-1]:.0f}/s; {unique} unique → inbox {inbox_rows}, "
                f"ledger payments {payments} {'ok' if ok else 'MISMATCH'}",
                flush=True,
            )
            if not ok:
                sys.exit("recorded counts differ from the unique deliveries")
        record(
            "signed-webhook ingestion",
            [
                f"PostgreSQL 15; {args.events} deliveries per run (10% repeats), "
                f"{args.concurrency} in flight, {args.runs} runs; one uvicorn worker and the "
                "load generator on the same 2 cores",
                f"HTTP ingest (verify signature, inbox row keyed by webhook-id, outbox row, "
                f"202): median {median(ingest):.0f} deliveries/s "
                f"(runs: {', '.join(f'{r:.0f}' for r in ingest)})",
                f"worker (batches of {args.batch}), inbox → claims in the ledger (+ patient "
                f"questions): median "
                f"{median(process):.0f} events/s (runs: {', '.join(f'{r:.0f}' for r in process)})",
                f"plain one-row INSERTs of the same deliveries, asyncpg, same concurrency: "
                f"median {median(plain):.0f} rows/s (runs: {', '.join(f'{r:.0f}' for r in plain)})",
                f"bare GET /health on the same server and generator: median "
                f"{median(ceiling):.0f} requests/s (runs: {runs(ceiling)})",
                f"ratios: HTTP ingest / plain inserts {median(ingest) / median(plain):.2f}, "
                f"HTTP ingest / bare endpoint {median(ingest) / median(ceiling):.2f}; "
                "every unique delivery recorded exactly once in each run",
            ],
        )
    finally:
        pg_cluster.stop(cluster)


if __name__ == "__main__":
    main()

"""Past one process: two app instances and two outbox workers on one PostgreSQL, with the
reports served from a streaming replica — on loopback, measured.

    python -m bench.scaling [--referrals 20000] [--seconds 20]
    python -m bench.scaling --quick          # 2,000 referrals, 8 s of load

A city (`bench.city`) in a primary; a hot standby made by pg_basebackup streams from it.
Two app instances (Granian, one worker each, stateless: every request may go to either)
both write to the primary and send read-only reports to the replica
(PLANTRACK_REPORTS_DATABASE_URL). Two `plantrack worker` processes share the outbox
(claims by SKIP LOCKED). During the load, clinic claims go to both instances (one wrk
each) while an exchange analyst asks both for last month's funnel. Afterwards: claims/s
per instance, report latency from the replica, replication lag, how the workers split
the outbox (each message handled once), and the monthly sums equal on both servers.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import httpx

from bench import city
from bench.common import pg_version, record, sized
from bench.plan_screen import Server, wrk
from bench.write_path import CONNECTIONS, claims_script, coordinators, staff_token
from tests import pg_cluster

FUNNEL = "/api/v1/exchange/funnel?from=2026-10-01&to=2026-10-31"
XACTS = "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = 'postgres'"
FAILED = "SELECT count(*) AS n FROM outbox WHERE status = 'failed'"
PENDING = (
    "SELECT count(*) AS n FROM outbox WHERE status IN ('pending', 'in_flight') "
    "AND available_at <= now()"
)
FINISHED = (
    "SELECT attempts, count(*) AS n FROM outbox WHERE status IN ('done', 'logged') "
    "GROUP BY attempts ORDER BY attempts"
)


async def analyst(url: str, work: Path) -> str:
    from backend.settings import load_settings
    from backend.store.engine import close_engine, open_engine

    settings = load_settings(city.env(url, work))
    engine = await open_engine(settings)
    try:
        now = datetime.now(UTC)
        return await staff_token("exchange_analyst", None, "analyst@bench.plantrack", now)
    finally:
        await close_engine(engine)


async def fetch(url: str, query: str) -> list:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


def watch_workers(url: str, stop: threading.Event, seen: list[set[str]]) -> None:
    """Which workers hold outbox messages, sampled every 50 ms (a finished message no
    longer names its worker)."""

    async def sample() -> None:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            while not stop.is_set():
                rows = await conn.fetch(
                    "SELECT DISTINCT locked_by FROM outbox WHERE status = 'in_flight'"
                )
                seen.append({r["locked_by"] for r in rows})
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    asyncio.run(sample())


async def catch_up(primary: str, replica: str) -> float:
    """Seconds the standby takes to replay everything the primary has written so far."""
    import asyncpg

    lsn = (await fetch(primary, "SELECT pg_current_wal_lsn()::text AS lsn"))[0]["lsn"]
    started = time.perf_counter()
    conn = await asyncpg.connect(replica)
    try:
        replayed = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"
        while not await conn.fetchval(replayed, lsn):  # noqa: ASYNC110 - polling another server
            await asyncio.sleep(0.005)
    finally:
        await conn.close()
    return time.perf_counter() - started


def ask_reports(urls: list[str], token: str, stop: threading.Event, out: list) -> None:
    """The analyst's dashboard, refreshed on both instances in turn until `stop`."""
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30, headers=headers) as client:
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            answer = client.get(urls[n % len(urls)] + FUNNEL)
            out.append((answer.status_code, time.perf_counter() - started))
            n += 1
            stop.wait(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=20_000)
    parser.add_argument("--clinics", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    args = sized(
        parser,
        quick={"referrals": 2000, "clinics": 20, "seconds": 8},
        smoke={"referrals": 300, "clinics": 5, "seconds": 2},
    )
    replica_base = pg_cluster.temp_base()
    workers: list[subprocess.Popen] = []
    with city.throwaway("scaling", args.referrals, args.clinics) as c:
        primary, work = c.url, c.work
        try:
            pairs = asyncio.run(coordinators(primary, work, args.clinics))
            token = asyncio.run(analyst(primary, work))
            started = time.perf_counter()
            replica = pg_cluster.start_replica(primary, replica_base)
            print(f"streaming replica ready in {time.perf_counter() - started:.1f} s", flush=True)
            env = {**c.env, "PLANTRACK_REPORTS_DATABASE_URL": replica}
            lua = claims_script(work, pairs)
            outbox_before = asyncio.run(fetch(primary, "SELECT count(*) AS n FROM outbox"))[0]["n"]
            for _ in range(2):
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "backend.cli", "worker", "--interval", "0.2"],
                        env={**os.environ, **env},
                        stdout=subprocess.DEVNULL,
                    )
                )
            one = ("granian", "plantrack", env, 1)
            with Server(*one) as a, Server(*one) as b:
                replica_xacts = asyncio.run(fetch(replica, XACTS))[0]["n"]
                stop, asked, holders = threading.Event(), [], []
                reader = threading.Thread(
                    target=ask_reports, args=([a.url, b.url], token, stop, asked)
                )
                watcher = threading.Thread(target=watch_workers, args=(primary, stop, holders))
                reader.start()
                watcher.start()
                results: dict[str, dict] = {}

                def drive(name: str, url: str) -> None:
                    results[name] = wrk(url, lua, args.seconds, CONNECTIONS // 2)

                drivers = [
                    threading.Thread(target=drive, args=(name, s.url))
                    for name, s in (("a", a), ("b", b))
                ]
                for d in drivers:
                    d.start()
                for d in drivers:
                    d.join()
                stop.set()
                reader.join()
                # Transactions the standby served while the reports were asked (the funnel's
                # statements; nothing else reads it until here).
                replica_xacts = asyncio.run(fetch(replica, XACTS))[0]["n"] - replica_xacts - 1
                replay_s = asyncio.run(catch_up(primary, replica))
                watcher.join()
            deadline = time.monotonic() + 120
            pending = -1
            while time.monotonic() < deadline:
                pending = asyncio.run(fetch(primary, PENDING))[0]["n"]
                if pending == 0:
                    break
                time.sleep(1)
            finished = asyncio.run(fetch(primary, FINISHED))
            failed = asyncio.run(fetch(primary, FAILED))[0]["n"]
            version = asyncio.run(pg_version(primary))
            created = asyncio.run(fetch(primary, "SELECT count(*) AS n FROM outbox"))[0]["n"]
            workers_seen = set().union(*holders) if holders else set()
            both = sum(1 for h in holders if len(h) >= 2)
            asyncio.run(catch_up(primary, replica))  # then the sums must be the same
            sums = "SELECT count(*) AS rows, COALESCE(sum(amount), 0) AS amount FROM funnel_month"
            on_primary = asyncio.run(fetch(primary, sums))[0]
            on_replica = asyncio.run(fetch(replica, sums))[0]

            claims = {n: r["requests"] - r["non2xx"] for n, r in results.items()}
            rps = {n: r["rps"] for n, r in results.items()}
            ok = [t for status, t in asked if status == 200]
            lines = [
                f"{version} primary + streaming hot standby (pg_basebackup -R), loopback; "
                f"{args.referrals:,} referrals in {args.clinics} clinics; two Granian instances "
                f"(1 worker each) and two `plantrack worker` processes on the same "
                f"{os.cpu_count()} cores; "
                f"{args.seconds} s of load",
                f"clinic claims: instance A {rps['a']:,.0f}/s, instance B {rps['b']:,.0f}/s, "
                f"together {sum(rps.values()):,.0f}/s; acknowledged {sum(claims.values()):,}, "
                f"errors {sum(r['non2xx'] + r['socket_errors'] for r in results.values()):.0f}",
                f"last month's funnel for the exchange, reports on the replica, during the load: "
                f"{len(ok)} of {len(asked)} answered 200 (the standby committed {replica_xacts:,} "
                f"read transactions meanwhile), median "
                f"{median(ok) * 1000 if ok else float('nan'):.0f} ms, slowest "
                f"{max(ok, default=0) * 1000:.0f} ms",
                f"outbox: {created - outbox_before:,} messages written during the run, "
                f"{pending} due ones left after draining; {len(workers_seen)} workers seen holding "
                f"messages, both at once in {both} of {len(holders)} samples; finished messages "
                "by attempts: "
                + ", ".join(f"{r['attempts']}: {r['n']:,}" for r in finished)
                + f"; failed {failed}"
                + (
                    " (none handled twice)"
                    if finished and all(r["attempts"] == 1 for r in finished)
                    else " (some were claimed again after a lease ran out, or none finished)"
                ),
                f"replica: at the end of the load it replayed everything the primary had written "
                f"in {replay_s * 1000:.0f} ms; monthly sums {on_replica['rows']:,} rows / "
                f"{on_replica['amount']:,} kopecks on the replica vs {on_primary['rows']:,} / "
                f"{on_primary['amount']:,} on the primary "
                f"({'equal' if dict(on_replica) == dict(on_primary) else 'DIFFERENT'})",
            ]
            record("scaling: two instances, two workers, a streaming replica", lines)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(30)
            pg_cluster.stop(replica_base)


if __name__ == "__main__":
    main()

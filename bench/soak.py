"""Soak: mixed load at a paced, moderate rate for N minutes; memory and latency per minute.

    python -m bench.soak [--minutes 30] [--referrals 20000] [--load 0.5]
    python -m bench.soak --quick      # 2,000 referrals, three slices of 20 s

A city (`bench.city`) in a throwaway PostgreSQL, the production server (uvicorn, 2
workers, as `bench.plan_screen` runs it) and two wrk processes side by side:

  * patients' plan screens, `GET /api/v1/me/referrals/{id}`, a random patient each time
    (`bench.plan_screen`'s script);
  * clinic claims, `POST /api/v1/clinic/referrals/{id}/claims` with an Idempotency-Key,
    by coordinators of several clinics (`bench.write_path`'s script).

Each stream's maximum is measured alone first; then each is paced (every connection
waits between requests) so that together they take about `--load` of the machine: the
screens `--load` × 70% of their maximum, the claims `--load` × 30% of theirs. The load
runs in back-to-back slices of `--slice` seconds (a minute by default); after each, the
slice's requests/s, p50/p99, errors, every worker's RSS and the CPU used by the soak
(server, PostgreSQL, wrk) and by everything else on the machine are sampled. At the end:
the table per slice, RSS of the first slice against the last, p50/p99 and CPU per request
of the first five slices against the last five, the same for the first and last quiet
slices (other processes on ≤ 0.1 cores: latency on shared cores moves with them), the
tables PostgreSQL read whole during the slices (a missing index shows as drift), the
errors, and the ledger checked (every acknowledged claim recorded once).

Rate limits stay on, as production runs them (their counting write is part of the cost of
each request); a budget is raised only when the paced load would come near it, and the
output says which. No outbox worker runs (the timers claims schedule would wait for their
time with one too). wrk paces each connection after its response, so latency counts from
the moment a request is sent, not from when it was due.
"""

import argparse
import asyncio
import contextlib
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median

from backend.settings import Settings
from bench import city
from bench.common import pg_version, record, recorded_once, sized
from bench.plan_screen import PATH, WORKERS, Server, descendants, pace, rss_mb, script
from bench.plan_screen import wrk as run_wrk
from bench.write_path import claims_in_ledger, claims_script, coordinators

SCREEN_SHARE = 0.7  # of the load: patients read far more than clinics write
MAX_CONNECTIONS = {"screens": 64, "claims": 32}
PACED_CONNECTIONS = {"screens": 16, "claims": 8}
HEADROOM = 4  # a budget is kept at least this many times the mean use per subject
QUIET = 0.1  # cores used by other processes, at most, for a slice to count as quiet


def budgets(env: dict[str, str], rates: dict[str, float], subjects: dict[str, int]) -> list[str]:
    """Keep rate limits on, but raise a budget the paced load could reach; returns what
    was changed (and updates `env`)."""
    settings = Settings()
    window = settings.rate_limit_window_seconds
    changed = []
    for stream, group in (("screens", "patient"), ("claims", "staff")):
        per_subject = rates[stream] * window / subjects[stream]
        budget = getattr(settings, f"rate_limit_{group}")
        if budget and budget < HEADROOM * per_subject:
            budget = int(HEADROOM * per_subject) + 1
            env[f"PLANTRACK_RATE_LIMIT_{group.upper()}"] = str(budget)
            changed.append(f"{group} raised to {budget}")
        changed.append(f"{group} budget {budget}/{window} s against ~{per_subject:.0f} per subject")
    return changed


def worker_rss(server: Server) -> dict[int, float]:
    """Each server worker's resident memory now (the supervisor and multiprocessing's
    resource tracker left out)."""
    found = {}
    for pid in sorted(descendants(server.proc.pid)):
        with contextlib.suppress(OSError):
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                found[pid] = rss_mb(pid)
    return found


TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU time every core of the machine spent busy so far (/proc/stat, all processes)."""
    with open("/proc/stat") as f:
        ticks = [int(t) for t in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK  # less idle and iowait


def own_seconds(postmaster: int) -> float:
    """CPU time used so far by this soak: this process and the finished wrk runs it
    waited for, the server and its workers, PostgreSQL and its backends (a finished
    process's time is in its parent's cutime/cstime)."""
    me = os.getpid()
    family = {me, postmaster, *descendants(me), *descendants(postmaster)}
    total = 0
    for pid in family:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(t) for t in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def postmaster_pid(base: Path) -> int:
    return int((base / "data" / "postmaster.pid").read_text().split()[0])


def both(url: str, scripts: dict[str, Path], seconds: int) -> dict[str, dict]:
    """Both streams at once, each from its own wrk process."""
    with ThreadPoolExecutor(2) as pool:
        running = {
            stream: pool.submit(run_wrk, url, lua, seconds, PACED_CONNECTIONS[stream], quiet=True)
            for stream, lua in scripts.items()
        }
        return {stream: future.result() for stream, future in running.items()}


async def table_reads(url: str) -> dict[str, tuple[int, int, int]]:
    """Per table: sequential scans, rows they read, and live rows, so far."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT relname, seq_scan, seq_tup_read, n_live_tup FROM pg_stat_user_tables"
        )
        return {r["relname"]: (r["seq_scan"], r["seq_tup_read"], r["n_live_tup"]) for r in rows}
    finally:
        await conn.close()


def scanned(before: dict, after: dict, requests: int) -> str:
    """The tables read whole most during the slices: a query without a fitting index
    costs more as its table grows, the drift a soak is for."""
    found = sorted(
        (
            (
                after[t][1] - before.get(t, (0, 0, 0))[1],
                after[t][0] - before.get(t, (0, 0, 0))[0],
                t,
            )
            for t in after
        ),
        reverse=True,
    )
    return ", ".join(
        f"{table} {scans:,} scans, {read / requests:,.0f} rows read per request "
        f"({after[table][2]:,} rows at the end)"
        for read, scans, table in found[:3]
        if read
    )


async def outbox_statuses(url: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT status, topic, count(*) AS n FROM outbox GROUP BY 1, 2 ORDER BY 3 DESC"
        )
        return ", ".join(f"{r['n']:,} {r['status']} {r['topic']}" for r in rows) or "empty"
    finally:
        await conn.close()


async def database_mb(url: str) -> float:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20
    finally:
        await conn.close()


def errors(r: dict) -> int:
    return int(r["non2xx"] + r["socket_errors"])


def row(n: int, slice_: dict, rss: dict[int, float], cpu: tuple[float, float]) -> str:
    parts = [f"{n:>3}"]
    for stream in ("screens", "claims"):
        r = slice_[stream]
        parts.append(
            f"{r['rps']:7.1f} {r['p50_us'] / 1000:7.1f} {r['p99_us'] / 1000:7.1f} {errors(r):5}"
        )
    parts.append(" ".join(f"{mb:6.1f}" for mb in rss.values()))
    parts.append(f"{cpu[0]:4.2f} {cpu[1]:4.2f}")
    return " | ".join(parts)


HEADER = (
    "min | screens/s  p50 ms  p99 ms  errs | claims/s  p50 ms  p99 ms  errs | worker RSS MB "
    "| CPU cores: soak, others"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=30, help="slices of --slice seconds")
    parser.add_argument("--slice", type=int, default=60, help="seconds per sample")
    parser.add_argument("--referrals", type=int, default=20_000)
    parser.add_argument("--clinics", type=int, default=200)
    parser.add_argument("--patients", type=int, default=5000, help="distinct tokens")
    # Every clinic's coordinator writes, so that each referral gets only a few claims
    # more in half an hour (each claim refolds its referral's whole ledger).
    parser.add_argument("--staff", type=int, default=200, help="coordinators, one per clinic")
    parser.add_argument("--load", type=float, default=0.5, help="share of the maximum")
    args = sized(
        parser,
        quick={
            "referrals": 2000,
            "clinics": 20,
            "patients": 1000,
            "staff": 20,
            "minutes": 3,
            "slice": 20,
        },
        smoke={
            "referrals": 300,
            "clinics": 5,
            "patients": 50,
            "staff": 5,
            "minutes": 2,
            "slice": 1,
        },
    )
    # Each stream's maximum is measured over 10 s (after 2 s of warm-up), each pace trial
    # over 3 s; a smoke run keeps every wrk run to a second.
    warm_up, alone, trial = (1, 1, 1) if args.smoke else (2, 10, 3)
    slices, window = args.minutes, min(5, max(1, args.minutes // 2))

    started = time.monotonic()
    with city.throwaway("soak", args.referrals, args.clinics, args.patients) as c:
        url, base, work, env, tokens = c.url, c.base, c.work, c.env, c.tokens
        pairs = asyncio.run(coordinators(url, work, args.clinics, staff=args.staff))
        claim_lines = pairs.read_text().split()
        staff = len(set(claim_lines[0::2]))
        print(
            f"city ready in {time.monotonic() - started:.0f} s: {args.referrals:,} referrals, "
            f"{staff} coordinators writing to {len(claim_lines) // 2:,} open referrals",
            flush=True,
        )
        db_before = asyncio.run(database_mb(url))

        def screens(delay_ms: float = 0) -> Path:
            return script(work, "soak-screens", tokens, PATH.format(""), delay_ms, failures=True)

        def claims(delay_ms: float = 0) -> Path:
            return claims_script(work, pairs, delay_ms, name="soak-claims")

        make = {"screens": screens, "claims": claims}

        # Each stream's maximum alone, with the default budgets (a few seconds each).
        maxima: dict[str, float] = {}
        with Server("uvicorn", "plantrack", env) as server:
            for stream, lua in make.items():
                run_wrk(server.url, lua(), warm_up, MAX_CONNECTIONS[stream])
                r = run_wrk(server.url, lua(), alone, MAX_CONNECTIONS[stream])
                maxima[stream] = r["rps"]
                print(f"{stream} alone at most: {r['rps']:.0f} req/s", flush=True)
        targets = {
            "screens": args.load * SCREEN_SHARE * maxima["screens"],
            "claims": args.load * (1 - SCREEN_SHARE) * maxima["claims"],
        }
        limits = budgets(env, targets, {"screens": args.patients, "claims": staff})
        print("rate limits on: " + "; ".join(limits), flush=True)

        with Server("uvicorn", "plantrack", env) as server:
            # Both paced together, so each wait is calibrated under the mixed load.
            with ThreadPoolExecutor(2) as pool:
                delays = {
                    stream: pool.submit(
                        pace,
                        server.url,
                        make[stream],
                        targets[stream],
                        PACED_CONNECTIONS[stream],
                        trial,
                    )
                    for stream in make
                }
                scripts = {stream: make[stream](d.result()) for stream, d in delays.items()}
            recorded_before, _ = asyncio.run(claims_in_ledger(url))
            acknowledged = 0  # claims acknowledged in the slices, for the ledger check
            print(
                f"paced: screens {targets['screens']:.0f} req/s, claims "
                f"{targets['claims']:.0f} req/s (waits "
                + ", ".join(f"{s} {d.result():.0f} ms" for s, d in delays.items())
                + f"); {slices} slices of {args.slice} s",
                flush=True,
            )
            print(HEADER, flush=True)
            samples: list[tuple[dict, dict[int, float], tuple[float, float]]] = []
            failures: Counter[str] = Counter()
            postmaster = postmaster_pid(base)
            stopped = ""
            reads_before = asyncio.run(table_reads(url))
            for n in range(1, slices + 1):
                began, busy, own = time.monotonic(), busy_seconds(), own_seconds(postmaster)
                try:
                    result = both(server.url, scripts, args.slice)
                except RuntimeError as e:  # wrk failed: keep what was measured
                    stopped = f"STOPPED after {n - 1} slices: {e}"
                    print(stopped, flush=True)
                    break
                took = time.monotonic() - began
                ours = (own_seconds(postmaster) - own) / took
                cpu = (ours, max(0.0, (busy_seconds() - busy) / took - ours))
                acknowledged += result["claims"]["requests"] - errors(result["claims"])
                for r in result.values():
                    failures.update(r["failures"])
                rss = worker_rss(server)
                samples.append((result, rss, cpu))
                print(row(n, result, rss, cpu), flush=True)
            peak = server.max_worker_rss()
        db_after = asyncio.run(database_mb(url))
        requests = sum(r["requests"] for s in samples for r in s[0].values())
        reads = scanned(reads_before, asyncio.run(table_reads(url)), max(1, requests))
        outbox = asyncio.run(outbox_statuses(url))
        recorded, repeated = asyncio.run(claims_in_ledger(url))
        pg = asyncio.run(pg_version(url))

        # Every claim acknowledged in the slices is in the ledger once; the only extras may
        # be those in flight when a slice's wrk stopped (at most one per connection).
        recorded -= recorded_before
        in_flight = PACED_CONNECTIONS["claims"] * slices
        whole = recorded_once(acknowledged, recorded, repeated, in_flight)
        lines = [
            f"{pg}; {args.referrals:,} referrals in {args.clinics} clinics; "
            f"{args.patients:,} patients' tokens; {staff} coordinators × open referrals "
            f"({len(claim_lines) // 2:,}); uvicorn, {WORKERS} workers; on the same "
            f"{os.cpu_count()} cores as PostgreSQL and both wrk processes",
            f"each alone at most: screens {maxima['screens']:.0f} req/s, claims "
            f"{maxima['claims']:.0f} req/s; paced at {args.load:.0%} of the machine: screens "
            f"{targets['screens']:.0f} req/s ({PACED_CONNECTIONS['screens']} connections), "
            f"claims {targets['claims']:.0f} req/s ({PACED_CONNECTIONS['claims']} connections)",
            "rate limits on: " + "; ".join(limits),
            *(summary(samples, min(window, len(samples)), failures, maxima) if samples else []),
            f"highest worker RSS seen (sampled every 0.25 s): {peak:.1f} MB",
            f"database {db_before:.0f} MB before, {db_after:.0f} MB after; outbox at the end "
            f"(no worker ran): {outbox}",
            f"tables read sequentially during the slices: {reads or 'none'}",
            f"ledger during the slices: {acknowledged:,} claims acknowledged (2xx), "
            f"{recorded:,} recorded, idempotency keys recorded twice {repeated}: "
            + ("every acknowledged claim recorded once" if whole else "MISMATCH"),
            *([stopped] if stopped else []),
        ]
        record(f"soak: {slices} × {args.slice} s of mixed load", lines)


def summary(
    samples: list[tuple[dict, dict[int, float], tuple[float, float]]],
    window: int,
    failures: Counter,
    maxima: dict[str, float],
) -> list[str]:
    """Per-slice table and the drift: RSS first vs last slice, latency first vs last
    `window` slices (median of the slices' percentiles: one noisy minute moves it little)."""
    lines = ["per slice: " + HEADER]
    lines += [f"`{row(n, *s)}`" for n, s in enumerate(samples, start=1)]
    first, last = samples[0][1], samples[-1][1]
    for pid in first:
        if pid in last:
            grown = last[pid] - first[pid]
            lines.append(
                f"worker {pid} RSS: {first[pid]:.1f} MB first slice, {last[pid]:.1f} MB last: "
                f"{grown:+.1f} MB ({grown / first[pid]:+.1%})"
            )
    gone = set(first) ^ set(last)
    if gone:
        lines.append(f"workers changed during the run (restarted?): {sorted(gone)}")
    head, tail = samples[:window], samples[-window:]
    for stream in ("screens", "claims"):
        for q in ("p50", "p99"):
            a = median(s[0][stream][f"{q}_us"] for s in head) / 1000
            b = median(s[0][stream][f"{q}_us"] for s in tail) / 1000
            lines.append(
                f"{stream} {q}: {a:.1f} ms first {window} slices, {b:.1f} ms last {window} "
                f"({(b - a) / a:+.0%})"
            )
        rps = [s[0][stream]["rps"] for s in samples]
        total = sum(s[0][stream]["requests"] for s in samples)
        errs = sum(errors(s[0][stream]) for s in samples)
        lines.append(
            f"{stream}: {total:,} requests, {min(rps):.1f}–{max(rps):.1f} req/s per slice, "
            f"errors {errs}"
        )
    shown = ", ".join(f"{times} × {what.strip()}" for what, times in failures.most_common(5))
    lines.append(f"failures seen: {shown or 'none'}")
    share = sum(median(s[0][stream]["rps"] for s in samples) / maxima[stream] for stream in maxima)
    lines.append(
        f"load offered: about {share:.0%} of the machine (each stream's median req/s over its "
        "maximum alone, added)"
    )

    def cpu_ms(sample: tuple) -> float:
        """The soak's CPU (server, PostgreSQL, wrk) per request in a slice: less moved by
        other processes than latency is."""
        return sample[2][0] * 1000 / sum(r["rps"] for r in sample[0].values())

    a, b = median(map(cpu_ms, head)), median(map(cpu_ms, tail))
    lines.append(
        f"CPU per request: {a:.2f} ms first {window} slices, {b:.2f} ms last {window} "
        f"({(b - a) / a:+.0%})"
    )
    quiet = [(n, s) for n, s in enumerate(samples, start=1) if s[2][1] <= QUIET]
    if len(quiet) >= 2:
        (n1, s1), (n2, s2) = quiet[0], quiet[-1]
        lines.append(
            f"quiet slices (others ≤ {QUIET} cores), first ({n1}) vs last ({n2}): "
            + "; ".join(
                f"{stream} p50 {s1[0][stream]['p50_us'] / 1000:.1f} → "
                f"{s2[0][stream]['p50_us'] / 1000:.1f} ms, p99 "
                f"{s1[0][stream]['p99_us'] / 1000:.1f} → {s2[0][stream]['p99_us'] / 1000:.1f} ms"
                for stream in ("screens", "claims")
            )
            + f"; CPU per request {cpu_ms(s1):.2f} → {cpu_ms(s2):.2f} ms"
        )
    others = [s[2][1] for s in samples]
    lines.append(
        f"CPU used by other processes on the machine (not this soak), per slice: "
        f"{min(others):.2f}–{max(others):.2f} cores of {os.cpu_count()}, median "
        f"{median(others):.2f}; this soak: median {median(s[2][0] for s in samples):.2f}"
    )
    return lines


if __name__ == "__main__":
    main()

"""The month funnel report at 10k, 100k and 1M referrals, beside one hand-written SQL
aggregate over the same facts.

    python -m bench.funnel_report [--sizes 10000,100000,1000000] [--clinics 500]
    python -m bench.funnel_report --quick        # 2k and 20k referrals, 50 clinics
    python -m bench.funnel_report --beside main  # and main's code on the same city

With `--beside REF`, at each size the same measurements are also taken by the code of
git commit REF (checked out in a throwaway worktree, run in its own process against the
same database; the city's tables are this code's), side by side in the same run.

The city grows step by step (`bench.city`: stories over 24 months folded by the domain
into their funnel facts, loaded with COPY; the monthly sums built from the facts as the
migration does). At each size it prints the median time of the last whole month's
report, for all clinics and for one, and of the hand-written aggregate. The all-clinics
report is timed twice: each run after the other reports (which read millions of facts at
1M and so push the month's rows out of PostgreSQL's buffers), and runs back to back.
"""

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from statistics import median

from bench import city
from bench.city import clinic_id
from bench.common import pg_version, record, sized
from tests import pg_cluster

MONTH = (date(2026, 10, 1), date(2026, 10, 31))  # the last whole month


HAND_WRITTEN = """
SELECT kind, split, reason, SUM(amount), SUM(count),
       SUM(CASE WHEN sent_day >= $1 THEN amount ELSE 0 END)
FROM funnel_fact WHERE kind IN ('in', 'accepted', 'executed', 'paid', 'lost')
  AND day BETWEEN $1 AND $2 {scope}
GROUP BY kind, split, reason
UNION ALL
SELECT 'reserve', cohort, '', SUM(amount), SUM(count), 0
FROM funnel_fact WHERE kind = 'reserve' AND day <= $2 {scope}
GROUP BY cohort
"""


@contextmanager
def movements_summed() -> Iterator[None]:
    """reports.funnel reading the reserve as the sum of every month's movements."""
    from backend.store import funnel_facts

    balances = funnel_facts.month_sums
    funnel_facts.month_sums = funnel_facts.month_sums_from_movements
    try:
        yield
    finally:
        funnel_facts.month_sums = balances


async def measure(url: str, var: Path, runs: int) -> dict[str, float]:
    import asyncpg

    from backend.services import conversion, health_stats, plan_fact, reports
    from backend.settings import load_settings
    from backend.store.engine import close_engine, open_engine

    settings = load_settings(city.env(url, var))
    engine = await open_engine(settings)
    conn = await asyncpg.connect(url)
    one = [clinic_id(7)]
    keys = (
        "all",
        "one",
        "moves_all",
        "moves_one",
        "sql_all",
        "sql_one",
        "plan_fact",
        "health",
        "conv_all",
        "conv_one",
    )
    timings: dict[str, list[float]] = {k: [] for k in keys}
    month = MONTH[0].strftime("%Y-%m")
    try:
        for n in range(runs):
            started = time.perf_counter()
            await plan_fact.plan_vs_fact(None, first=month, last=month)
            timings["plan_fact"].append(time.perf_counter() - started)
            if n < 3:  # reads a month's facts row by row: slower, fewer runs
                started = time.perf_counter()
                await health_stats.aggregates(month, month)
                timings["health"].append(time.perf_counter() - started)
            for key, scope in (("all", None), ("one", one)):
                started = time.perf_counter()
                got = await reports.funnel(scope, first=MONTH[0], last=MONTH[1])
                timings[key].append(time.perf_counter() - started)
                # The same report with the reserve summed from the movements of every
                # month (as before the running balances), on the same data.
                with movements_summed():
                    started = time.perf_counter()
                    want = await reports.funnel(scope, first=MONTH[0], last=MONTH[1])
                    timings[f"moves_{key}"].append(time.perf_counter() - started)
                assert got == want, (key, got, want)
            # Conversion with forecast: the month's positions and a year of each clinic's.
            for key, scope in (("conv_all", None), ("conv_one", one)):
                started = time.perf_counter()
                await conversion.conversion(scope, first=MONTH[0], last=MONTH[1], by="clinic")
                timings[key].append(time.perf_counter() - started)
            for key, scope, args in (
                ("sql_all", "", ()),
                ("sql_one", "AND clinic = $3", tuple(one)),
            ):
                started = time.perf_counter()
                await conn.fetch(HAND_WRITTEN.format(scope=scope), *MONTH, *args)
                timings[key].append(time.perf_counter() - started)
        # The same report asked again and again with nothing in between (an analyst
        # paging through it): above, each run follows the other reports, whose reads of
        # millions of facts at 1M push the month's rows out of PostgreSQL's buffers.
        timings["warm"] = []
        for _ in range(runs):
            started = time.perf_counter()
            await reports.funnel(None, first=MONTH[0], last=MONTH[1])
            timings["warm"].append(time.perf_counter() - started)
    finally:
        await conn.close()
        await close_engine(engine)
    return {k: median(v) * 1000 for k, v in timings.items()}


# What a commit's own code measures, run from its checkout (its `bench` and `backend`).
_BESIDE = (
    "import asyncio, json, sys; from pathlib import Path; from bench.funnel_report import "
    "measure; print(json.dumps(asyncio.run(measure(sys.argv[1], Path(sys.argv[2]), "
    "int(sys.argv[3])))))"
)


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """Commit `ref` in a throwaway git worktree."""
    root = Path(__file__).resolve().parents[1]
    where = Path(tempfile.mkdtemp(prefix="plantrack-beside-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(where), ref], cwd=root, check=True)
    try:
        yield where
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=root, check=True)


def measure_beside(tree: Path, url: str, var: Path, runs: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _BESIDE, url, str(var), str(runs)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def report_line(size: int, events: int, ms: dict[str, float], who: str = "") -> str:
    # An older commit's code (--beside) may not time the report back to back.
    warm = f"{ms['warm']:.1f} ms" if "warm" in ms else "not timed"
    return (
        f"{size:>9,} referrals, {events:>10,} events{who}: month report all clinics "
        f"{ms['all']:.1f} ms after the other reports, {warm} back to back "
        f"(hand-written SQL {ms['sql_all']:.1f} ms, ratio "
        f"{ms['all'] / ms['sql_all']:.2f}); one clinic {ms['one']:.1f} ms (SQL "
        f"{ms['sql_one']:.1f} ms, ratio {ms['one'] / ms['sql_one']:.2f}); "
        f"reserve summed from every month's movements (before the balances): all "
        f"clinics {ms['moves_all']:.1f} ms, one clinic {ms['moves_one']:.1f} ms; "
        f"plan vs fact {ms['plan_fact']:.1f} ms; health cells {ms['health']:.0f} ms; "
        f"conversion all clinics {ms['conv_all']:.1f} ms, one clinic "
        f"{ms['conv_one']:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--clinics", type=int, default=500)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--beside", metavar="REF", help="also measure commit REF's code")
    args = sized(
        parser,
        quick={"sizes": "2000,20000", "clinics": 50},
        smoke={"sizes": "200,400", "clinics": 10, "runs": 3},
    )
    sizes, clinics = [int(s) for s in args.sizes.split(",")], args.clinics

    var = Path(tempfile.mkdtemp(prefix="plantrack-bench-"))
    base = pg_cluster.temp_base()
    url = pg_cluster.start(base, extra_conf=city.PG_CONF)
    lines, loaded, events = [], 0, 0
    by_size: dict[int, dict[str, float]] = {}
    beside: dict[int, dict[str, float]] = {}
    try:
        asyncio.run(city.add_clinics(url, var, clinics))
        with (
            ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool,
            checkout(args.beside) if args.beside else contextlib.nullcontext() as tree,
        ):
            for size in sizes:
                events += city.grow(url, loaded, size, clinics, pool)
                loaded = size
                if tree is not None:
                    beside[size] = measure_beside(tree, url, var, args.runs)
                    line = report_line(size, events, beside[size], f", {args.beside}'s code")
                    print(line, flush=True)
                    lines.append(line)
                ms = asyncio.run(measure(url, var, args.runs))
                line = report_line(size, events, ms, ", this code" if tree else "")
                print(line, flush=True)
                lines.append(line)
                by_size[size] = ms
        if len(by_size) > 1:
            small, large = min(by_size), max(by_size)
            growth = {
                k: by_size[large][k] / by_size[small][k] for k in ("all", "warm", "moves_all")
            }
            line = (
                f"all-clinics month report, {large:,} / {small:,} referrals: "
                f"×{growth['all']:.2f} after the other reports, ×{growth['warm']:.2f} back to "
                f"back; summing every month's movements ×{growth['moves_all']:.2f}"
            )
            print(line, flush=True)
            lines.append(line)
        if len(beside) > 1:
            small, large = min(beside), max(beside)
            line = (
                f"{args.beside}'s code: all-clinics month report, {large:,} / {small:,} "
                f"referrals: ×{beside[large]['all'] / beside[small]['all']:.2f}"
            )
            print(line, flush=True)
            lines.append(line)
        record(
            "funnel month report",
            [
                f"{asyncio.run(pg_version(url))}; {clinics} clinics; stories over 24 months; "
                "median of "
                f"{args.runs} runs; report = reports.funnel (monthly sums, the reserve's running "
                "balances, facts of partial months); hand-written = one SQL statement over "
                "funnel_fact, same figures",
                *lines,
            ],
        )
    finally:
        pg_cluster.stop(base)


if __name__ == "__main__":
    main()

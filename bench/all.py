"""Every benchmark, one after another, each appending to bench/RESULTS.md.

    python -m bench.all            # the full suite: a city of 100k-1M referrals (an hour or more)
    python -m bench.all --quick    # small data, short runs: a few minutes

Needs wrk (Debian: apt-get install wrk) and the `bench` extra (pip install -e ".[bench]");
`make bench` / `make bench-quick` install both. Run it on an otherwise idle machine: the
servers, PostgreSQL and the load generators share its cores.
"""

import argparse
import shutil
import subprocess
import sys
import time

SUITE: list[tuple[str, list[str], list[str]]] = [
    # (module, full arguments, quick arguments)
    ("bench.plan_screen", [], ["--quick"]),
    ("bench.write_path", [], ["--quick"]),
    ("bench.webhook_ingest", [], ["--events", "1000", "--runs", "1"]),
    ("bench.push_throughput", [], ["--messages", "2000", "--runs", "1"]),
    ("bench.scaling", [], ["--quick"]),
    ("bench.funnel_report", [], ["--quick"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, short runs")
    parser.add_argument("--only", help="comma-separated module names, e.g. bench.write_path")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk not found — apt-get install wrk (or run `make bench-quick`)")
    chosen = [s for s in SUITE if not args.only or s[0] in args.only.split(",")]
    failed = []
    for n, (module, full, quick) in enumerate(chosen, start=1):
        argv = [sys.executable, "-m", module, *(quick if args.quick else full)]
        print(f"\n=== [{n}/{len(chosen)}] {' '.join(argv[1:])}", flush=True)
        started = time.perf_counter()
        done = subprocess.run(argv, check=False)
        took = time.perf_counter() - started
        print(f"=== {module}: {'ok' if done.returncode == 0 else 'FAILED'} in {took:.0f} s")
        if done.returncode != 0:
            failed.append(module)
    if failed:
        sys.exit(f"bench: failed: {', '.join(failed)}")
    print("\nbench: every result was appended to bench/RESULTS.md")


if __name__ == "__main__":
    main()

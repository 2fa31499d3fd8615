"""Every benchmark, one after another, each appending to bench/RESULTS.md.

    python -m bench.all            # the full suite: a city of 100k-1M referrals (an hour or more)
    python -m bench.all --quick    # small data, short runs: a few minutes
    python -m bench.all --smoke    # every benchmark (the soak too) at tiny sizes: does it run?

Needs wrk (Debian: apt-get install wrk) and the `bench` extra (pip install -e ".[bench]");
`make bench` / `make bench-quick` install both. Run it on an otherwise idle machine: the
servers, PostgreSQL and the load generators share its cores.

The smoke run (`make bench-smoke`, part of `make test`) measures nothing worth keeping
and records nothing: it fails when a benchmark stops running or stops printing its
figures, or when one of its own checks (every acknowledged write recorded once, the
replica equal to the primary) says MISMATCH, so a benchmark cannot rot unnoticed.
"""

import argparse
import re
import shutil
import subprocess
import sys
import time

SUITE: list[tuple[str, list[str], list[str]]] = [
    # (module, full arguments, quick arguments)
    ("bench.plan_screen", [], ["--quick"]),
    ("bench.write_path", [], ["--quick"]),
    ("bench.claim_profile", [], ["--quick"]),
    ("bench.answer_profile", [], ["--quick"]),
    ("bench.answers", [], ["--quick"]),
    ("bench.webhook_ingest", [], ["--events", "1000", "--runs", "1"]),
    ("bench.push_throughput", [], ["--messages", "2000", "--runs", "1"]),
    ("bench.scaling", [], ["--quick"]),
    ("bench.funnel_report", [], ["--quick"]),
    ("bench.worker_memory", [], ["--runs", "3"]),
    ("bench.worker_growth", [], ["--quick"]),
]
# The soak runs by hand (`make bench-soak`), but its smoke run is part of the smoke suite.
SMOKE_ONLY = ["bench.soak"]
# Words a benchmark prints when its own correctness check fails.
BROKEN = re.compile(r"MISMATCH|DIFFERENT|STOPPED|\bnan\b|Traceback")


def figures_missing(output: str) -> str | None:
    """Why a smoke run's output does not show its figures (None: it does)."""
    heads = [ln for ln in output.splitlines() if ln.startswith("## ")]
    if not heads:
        return "no results block printed"
    block = output[output.index(heads[-1]) :].splitlines()
    figures = [
        ln
        for ln in block
        if ln.startswith("- ") and not ln.startswith(("- machine:", "- command:"))
    ]
    if not any(re.search(r"\d", ln) for ln in figures):
        return "the results block has no figures"
    if found := BROKEN.search(output):
        return f"the output says {found.group(0)!r}"
    return None


def run(module: str, argv: list[str], smoke: bool) -> tuple[bool, str]:
    """One benchmark in its own process, its output passed through as it comes."""
    if not smoke:
        done = subprocess.run([sys.executable, "-m", module, *argv], check=False)
        return done.returncode == 0, "" if done.returncode == 0 else f"exit {done.returncode}"
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        print(f"  {line}", end="", flush=True)
    if proc.wait() != 0:
        return False, f"exit {proc.returncode}"
    why = figures_missing("".join(seen))
    return why is None, why or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, short runs")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks each one runs")
    parser.add_argument("--only", help="comma-separated module names, e.g. bench.write_path")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk not found — apt-get install wrk (or run `make bench-quick`)")
    if args.smoke:
        suite = [(m, ["--smoke"]) for m, _, _ in SUITE] + [(m, ["--smoke"]) for m in SMOKE_ONLY]
    else:
        suite = [(m, quick if args.quick else full) for m, full, quick in SUITE]
    chosen = [s for s in suite if not args.only or s[0] in args.only.split(",")]
    failed = []
    began = time.perf_counter()
    for n, (module, argv) in enumerate(chosen, start=1):
        print(f"\n=== [{n}/{len(chosen)}] {module} {' '.join(argv)}", flush=True)
        started = time.perf_counter()
        ok, why = run(module, argv, args.smoke)
        took = time.perf_counter() - started
        print(f"=== {module}: {'ok' if ok else 'FAILED: ' + why} in {took:.0f} s", flush=True)
        if not ok:
            failed.append(f"{module} ({why})")
    took = time.perf_counter() - began
    if failed:
        sys.exit(f"bench: failed: {', '.join(failed)}")
    if args.smoke:
        print(f"\nbench: {len(chosen)} benchmarks ran and printed their figures in {took:.0f} s")
    else:
        print("\nbench: every result was appended to bench/RESULTS.md")


if __name__ == "__main__":
    main()

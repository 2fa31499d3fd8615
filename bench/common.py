"""What every benchmark shares: the machine it ran on, and RESULTS.md."""

import argparse
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

RESULTS = Path(__file__).parent / "RESULTS.md"
SMOKE_HELP = "tiny sizes and 1-second runs: checks the benchmark runs; nothing is recorded"
_smoke = False

# wrk's closing hook for every HTTP benchmark: each thread's failures, then one line
# "RESULT {json}" that `plan_screen.wrk` reads.
WRK_DONE = """done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(thread:get("failed") or "")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %d, \\"duration_us\\": %d, \\"non2xx\\": %d, "
    .. "\\"socket_errors\\": %d, \\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


def paced(delay_ms: float) -> str:
    """wrk's `delay` for a wait of `delay_ms` between a connection's requests ("" for
    none). wrk waits whole milliseconds (it truncates what `delay` returns), which at
    thousands of requests a second is far off the rate asked for: the fractions are
    carried over, so the waits average out to the one asked for."""
    if not delay_ms:
        return ""
    return f"""local owed = 0
delay = function()
  owed = owed + {delay_ms:.3f}
  local whole = math.floor(owed)
  owed = owed - whole
  return whole
end"""


_POSTS = """
local targets = {}
for line in io.lines("%(pairs)s") do
  local token, id = line:match("(%%S+) (%%S+)")
  targets[#targets + 1] = {"Bearer " .. token, "%(before)s" .. id .. "%(after)s"}
end
local prefix = tostring({}):match("0x(%%x+)") .. os.time()
local n = 0
local body = '%(body)s'
local threads = {}
failed = ""  -- the first failures' statuses and problem titles, per thread

setup = function(thread)
  threads[#threads + 1] = thread
end

response = function(status, headers, text)
  if status >= 300 and #failed < 2000 then
    failed = failed .. status .. " " .. (text and text:match('"detail":"([^"]*)"') or "") .. "\\n"
  end
end

%(delay)s
request = function()
  n = n + 1
  local p = %(pick)s
  return wrk.format("POST", p[2], {
    ["Authorization"] = p[1],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. n,
  }, body)
end

%(done)s"""


def wrk_posts(pairs: Path, path: str, body: str, *, pick: str, delay_ms: float = 0) -> str:
    """A wrk script POSTing `body` as the callers of `pairs` (lines "token id") to `path`
    with the id in place of its `{}`, each with its own Idempotency-Key; `pick` chooses a
    line (Lua, from `targets` and the request number `n`); with `delay_ms` each
    connection waits between requests. Failures' statuses and problems are printed."""
    before, after = path.split("{}")
    return _POSTS % {
        "pairs": pairs,
        "before": before,
        "after": after,
        "body": body,
        "pick": pick,
        "delay": paced(delay_ms),
        "done": WRK_DONE,
    }


def smoke_run() -> None:
    """This process is a smoke run (`--smoke`, `make bench-smoke`): its figures say only
    that the benchmark works, so `record` prints them and keeps RESULTS.md as it is."""
    global _smoke
    _smoke = True


def sized(
    parser: argparse.ArgumentParser, *, smoke: dict, quick: dict | None = None
) -> argparse.Namespace:
    """The benchmark's command line with `--quick` (the sizes in `quick`; only where
    given) and `--smoke` (the sizes in `smoke`, and nothing recorded: `smoke_run`)."""
    if quick is not None:
        sizes = ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in quick.items()
        )
        parser.add_argument("--quick", action="store_true", help=f"smaller: {sizes}")
    parser.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    args = parser.parse_args()
    if quick is not None and args.quick:
        vars(args).update(quick)
    if args.smoke:
        vars(args).update(smoke)
        smoke_run()
    return args


def acknowledged(result: dict) -> int:
    """The requests of a wrk run answered with a 2xx."""
    return int(result["requests"] - result["non2xx"] - result["socket_errors"])


async def keys_in_ledger(url: str, where: str) -> tuple[int, int]:
    """The ledger's events `where` (SQL on `event`), and how many of their idempotency
    keys appear twice."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, count(*) - count(DISTINCT idempotency_key) AS repeated "
            f"FROM event WHERE {where}"
        )
        return row["n"], row["repeated"]
    finally:
        await conn.close()


def recorded_once(acknowledged: int, recorded: int, repeated: int, in_flight: int) -> bool:
    """Every acknowledged write is in the ledger, once; the only extras may be the
    requests still in flight when wrk stopped (`in_flight`: one per connection)."""
    return acknowledged <= recorded <= acknowledged + in_flight and repeated == 0


def ledger_check(result: dict, recorded: int, repeated: int, in_flight: int) -> tuple[int, bool]:
    """The writes of a wrk run acknowledged (2xx), and whether each is in the ledger once
    (`recorded` events, `repeated` keys; see `recorded_once`)."""
    done = acknowledged(result)
    return done, recorded_once(done, recorded, repeated, in_flight)


def machine() -> str:
    cores = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        memory = "?"
    try:
        git = ["git", "rev-parse", "--short", "HEAD"]
        commit = subprocess.run(git, capture_output=True, text=True, check=False)
        commit = commit.stdout.strip()
        status = ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!*.md"]
        if subprocess.run(status, capture_output=True, text=True, check=False).stdout.strip():
            commit += " with uncommitted changes"
    except OSError:
        commit = "?"
    return (
        f"{platform.machine()}, {cores} cores, {memory}; Python "
        f"{platform.python_version()}; commit {commit}"
    )


async def pg_version(url: str) -> str:
    """The PostgreSQL server's version, as it reports it (for the results)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return "PostgreSQL " + await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


def command_line() -> str:
    """The command as run from the repository's root (`python -m bench.x …`), never the
    path of the machine it ran on."""
    script = Path(sys.argv[0]).resolve()
    root = Path(__file__).resolve().parents[1]
    if script.is_relative_to(root) and script.suffix == ".py":
        module = ".".join(script.relative_to(root).with_suffix("").parts)
        return " ".join(["python -m", module, *sys.argv[1:]])
    return " ".join([script.name, *sys.argv[1:]])


def record(title: str, lines: list[str]) -> None:
    """Print and append to bench/RESULTS.md (each run appends: the history shows)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if _smoke:
        stamp += " (smoke run, not recorded)"
    block = [
        f"## {title} — {stamp}",
        "",
        f"- machine: {machine()}",
        f"- command: `{command_line()}`",
        *(f"- {line}" for line in lines),
        "",
    ]
    print("\n".join(block), flush=True)
    if _smoke:
        return
    # A blank line before the heading, whatever the last entry ended with.
    ended = RESULTS.read_text().endswith("\n\n") if RESULTS.exists() else True
    with open(RESULTS, "a") as f:
        f.write(("" if ended else "\n") + "\n".join(block) + "\n")


__all__ = ["median", "record"]

"""The patient's plan screen under load, beside the stack's ceiling and a peer.

    python -m bench.plan_screen [--referrals 100000] [--patients 5000] [--seconds 15]
    python -m bench.plan_screen --quick          # 5,000 referrals, 1,000 patients, 5 s runs

A city (`bench.city`) is loaded into a throwaway PostgreSQL and access tokens are minted
for thousands of its patients. wrk (Debian's package; one thread, a Lua script that
sends each request as a random patient for their own referral) drives, in one run:

  * `GET /api/v1/me/referrals/{id}` served by plantrack under uvicorn (uvloop,
    httptools) and under Granian, the same number of workers each;
  * the ceiling: `GET /health` of the same app and server (a constant small JSON);
  * the peer: the same screen from FastAPI + SQLAlchemy (bench/peers), same server;
  * the chosen server again at about 70% of its maximum rate, for p50/p99 there.

Before loading, a sample of screens from plantrack and the peer are compared: they must
be the same JSON, or the comparison would mean nothing. Server RSS is sampled per worker
process through every run (the maximum is reported).
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Event, Thread

import httpx

from bench import city
from bench.common import WRK_DONE, paced, pg_version, record, sized
from bench.push_throughput import free_port

WORKERS = 2
CONNECTIONS = 64
PATIENT_BUDGET = 10_000_000  # requests a patient may make in a rate-limit window
PATH = "/api/v1/me/referrals/{}"

LUA = """
local pairs_ = {}
local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
end
for line in io.lines("%(tokens)s") do
  local token, referral, tag = line:match("^(%%S+) (%%S+) ?(%%S*)$")
  pairs_[#pairs_ + 1] = {"Bearer " .. token, "%(path)s" .. referral, tag}
end
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%%x+)"), 16) %% 100000)

request = function()
  local p = pairs_[math.random(#pairs_)]
  local headers = {["Authorization"] = p[1]}
  if p[3] ~= "" then headers["If-None-Match"] = p[3] end
  return wrk.format("GET", p[2], headers)
end
%(delay)s
%(response)s
%(done)s"""


def server_command(server: str, app: str, port: int, workers: int = WORKERS) -> list[str]:
    """The production servers as measured: uvloop, no access log, `workers` processes."""
    common = ["--factory", "--workers", str(workers), "--loop", "uvloop", "--log-level"]
    common += ["warning", "--host", "127.0.0.1", "--port", str(port)]
    if server == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws", *common, app]
    extra = ["--http", "httptools", "--no-access-log"]
    return [sys.executable, "-m", "uvicorn", *extra, *common, app]


APPS = {
    "plantrack": "backend.app:create_app_from_env",
    "peer": "bench.peers.plan_screen_fastapi:create_app",
}


class Server:
    """A server process tree on a free port; its workers' RSS sampled while it runs."""

    def __init__(self, server: str, app: str, env: dict[str, str], workers: int = WORKERS) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            server_command(server, APPS[app], self.port, workers),
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.rss_mb: dict[int, float] = {}
        self._stop = Event()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            self.close()
            raise RuntimeError(f"{server} serving {app} did not start")
        self._sampler = Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            for pid in descendants(self.proc.pid):
                rss = rss_mb(pid)
                if rss:
                    self.rss_mb[pid] = max(self.rss_mb.get(pid, 0.0), rss)

    def max_worker_rss(self) -> float:
        workers = {p: r for p, r in self.rss_mb.items() if p != self.proc.pid}
        return max(workers.values(), default=0.0)

    def close(self) -> None:
        """Stop the server and every worker before the next measurement starts (a
        draining worker must not share the cores with the next run)."""
        self._stop.set()
        family = descendants(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def wrk(url: str, script: Path, seconds: int, connections: int, quiet: bool = False) -> dict:
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    out = done.stdout
    if done.returncode != 0 or "RESULT " not in out:
        raise RuntimeError(f"wrk failed: {done.stderr[-2000:]}")
    failures = Counter(ln for ln in out.splitlines() if ln[:1] in "2345" and " " in ln)
    for failure, times in failures.most_common(0 if quiet else 5):
        print(f"  {times} × {failure}")
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["failures"] = failures  # the first ones only, when the script reports them
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


# Optional: the first failures' statuses, per thread, printed by `done` (wrk calls Lua for
# every response once this is defined, so the maximum-rate runs leave it out).
FAILURES = """
failed = ""
response = function(status, headers, text)
  if status >= 300 and #failed < 2000 then
    failed = failed .. status .. " " .. (text and text:match('"detail":"([^"]*)"') or "") .. "\\n"
  end
end
"""


def script(
    work: Path,
    name: str,
    tokens: Path,
    path: str,
    delay_ms: float = 0,
    failures: bool = False,
) -> Path:
    delay = paced(delay_ms)
    response = FAILURES if failures else ""
    text = LUA % {
        "tokens": tokens,
        "path": path,
        "delay": delay,
        "response": response,
        "done": WRK_DONE,
    }
    target = work / f"{name}.lua"
    target.write_text(text)
    return target


def ratio(a: float, b: float) -> str:
    """a / b to two places; "n/a" when b measured nothing (a smoke run on a busy machine
    can finish no request in its window)."""
    return f"{a / b:.2f}" if b else "n/a"


def pace(
    url: str, lua: Callable[[float], Path], target: float, connections: int, seconds: int = 3
) -> float:
    """The wait (ms) each of `connections` makes between requests for `target` req/s,
    calibrated by short runs (rate = connections / (wait + latency)) until one lands
    within 5% of the target, four at most: latency falls as the load does, so one
    correction overshoots. A machine too busy to finish a request in a short run (a
    smoke run beside other work) measures 0: paced then at one request a second, not
    divided by zero."""
    target = max(target, 1.0)
    delay_ms = connections * 1000 / target
    for _ in range(4):
        trial = wrk(url, lua(delay_ms), seconds, connections)
        if abs(trial["rps"] - target) <= 0.05 * target:
            break
        latency_ms = connections * 1000 / max(trial["rps"], 0.1) - delay_ms
        delay_ms = max(0.1, connections * 1000 / target - latency_ms)
    return delay_ms


def first_reads(url: str, tokens: Path, work: Path, in_flight: int = 16) -> tuple[float, Path]:
    """Each patient's screen read once, as after a change each one is (the read builds
    and stores it): the rate of those first reads, and the tokens with each screen's
    ETag, for the 304 run (the app asking again with what it holds)."""

    lines = tokens.read_text().splitlines()

    async def read_all() -> list[str]:
        tagged: list[str] = [""] * len(lines)
        queue = list(enumerate(lines))
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:

            async def reader() -> None:
                while queue:
                    i, line = queue.pop()
                    token, referral = line.split()
                    r = await client.get(
                        PATH.format(referral), headers={"authorization": f"Bearer {token}"}
                    )
                    if r.status_code != 200:
                        raise SystemExit(f"first read of {referral}: {r.status_code} {r.text}")
                    tagged[i] = f"{line} {r.headers['etag']}"

            await asyncio.gather(*(reader() for _ in range(in_flight)))
        return tagged

    started = time.perf_counter()
    tagged = asyncio.run(read_all())
    rate = len(tagged) / (time.perf_counter() - started)
    target = work / "tokens-etags.txt"
    target.write_text("\n".join(tagged) + "\n")
    return rate, target


def list_statements(env: dict[str, str], referrals: int = 20) -> tuple[int, int]:
    """Statements one `GET /api/v1/me/referrals?limit=20` sends for a patient with 20
    referrals, in-process through the whole app (sign-in check, rate budget, the page):
    the first read (each row built and stored) and the next (as stored)."""
    from backend.app import create_app
    from backend.auth.tokens import PATIENT_AUDIENCE, issue_access, key_ring
    from backend.domain.events import Source
    from backend.services.referrals import PatientIn, send_referral
    from backend.settings import load_settings
    from bench.claim_profile import StatementCounter
    from tests.conftest import running
    from tests.factories import PLAN

    settings = load_settings(env)

    async def measure() -> tuple[int, int]:
        app = create_app(settings)
        async with running(app):
            now = datetime.now(UTC)
            phone = "+79000000000"  # the city's patient 0 (bench.city)
            for n in range(referrals - 1):
                await send_referral(
                    patient=PatientIn(phone=phone, name="Пациент 0"),
                    clinic_id=city.clinic_id(n % 5),
                    plan=PLAN,
                    source=Source.exchange,
                    actor="bench",
                    now=now - timedelta(minutes=n + 1),
                )
            token = issue_access(
                key_ring(settings),
                subject=city.patient_id(0),
                session=city.session_family(0),
                role="patient",
                audience=PATIENT_AUDIENCE,
                ttl=timedelta(hours=1),
                now=now,
            )
            headers = {"authorization": f"Bearer {token}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                counted = []
                counter = StatementCounter()
                for _ in range(2):
                    counter.n = 0
                    r = await c.get("/api/v1/me/referrals?limit=20", headers=headers)
                    if r.status_code != 200 or len(r.json()["items"]) != referrals:
                        raise SystemExit(f"the list of {referrals}: {r.status_code} {r.text}")
                    counted.append(counter.n)
        return counted[0], counted[1]

    return asyncio.run(measure())


def same_screens(ours: str, peer: str, tokens: Path, sample: int = 50) -> int:
    """The peer must serve the same JSON as plantrack, or comparing them means nothing."""
    lines = tokens.read_text().splitlines()[:sample]
    with httpx.Client(timeout=30) as client:
        for line in lines:
            token, referral = line.split()
            headers = {"authorization": f"Bearer {token}"}
            a = client.get(ours + PATH.format(referral), headers=headers)
            b = client.get(peer + PATH.format(referral), headers=headers)
            if a.status_code != 200 or (found := _difference(a.json(), b.json())):
                raise SystemExit(
                    f"plantrack and the peer differ for referral {referral}: "
                    f"{a.status_code} / {b.status_code}\n{found}"
                )
    return len(lines)


def _difference(a: object, b: object, at: str = "") -> str | None:
    """Where two JSON documents first differ (None: they are the same). Timestamps may
    differ by a few seconds: a plan not yet begun is scheduled from the moment of asking."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if (found := _difference(a.get(key), b.get(key), f"{at}.{key}")) is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if (found := _difference(x, y, f"{at}[{i}]")) is not None:
                return found
        return None
    if a == b or _moments_close(a, b):
        return None
    shown = (json.dumps(v, ensure_ascii=False)[:200] for v in (a, b))
    return f"{at}: " + " != ".join(shown)


def _moments_close(a: object, b: object) -> bool:
    try:
        x, y = datetime.fromisoformat(str(a)), datetime.fromisoformat(str(b))
    except ValueError:
        return False
    return isinstance(a, str) and abs((x - y).total_seconds()) < 5


def describe(name: str, r: dict[str, float], rss: float) -> str:
    return (
        f"{name}: {r['rps']:,.0f} req/s, p50 {r['p50_us'] / 1000:.1f} ms, p99 "
        f"{r['p99_us'] / 1000:.1f} ms, errors {r['non2xx'] + r['socket_errors']:.0f} of "
        f"{r['requests']:,.0f}, max worker RSS {rss:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--clinics", type=int, default=500)
    parser.add_argument("--patients", type=int, default=5000, help="distinct tokens")
    parser.add_argument("--seconds", type=int, default=15, help="length of each wrk run")
    args = sized(
        parser,
        quick={"referrals": 5000, "clinics": 50, "patients": 1000, "seconds": 5},
        smoke={"referrals": 300, "clinics": 5, "patients": 50, "seconds": 1},
    )
    warm_up = min(2, args.seconds)

    # wrk reads each patient's screen far more often than a person could (50 patients
    # share thousands of reads a second in a smoke run): the budget is raised out of
    # reach, its counting still runs on every request.
    budget = str(PATIENT_BUDGET)
    with city.throwaway(
        "plan-screen",
        args.referrals,
        args.clinics,
        args.patients,
        PLANTRACK_RATE_LIMIT_PATIENT=budget,
    ) as c:
        url, work, env, tokens = c.url, c.work, c.env, c.tokens
        screen = script(work, "screen", tokens, PATH.format(""))
        bare = script(work, "bare", tokens, "/health?")
        lines = []
        results: dict[str, tuple[dict[str, float], float]] = {}

        def run(name: str, server: str, app: str, lua: Path, connections: int) -> dict:
            with Server(server, app, env) as s:
                wrk(s.url, lua, warm_up, connections)  # warm up: pools, caches, JIT-free paths
                r = wrk(s.url, lua, args.seconds, connections)
                results[name] = (r, s.max_worker_rss())
            print(describe(name, *results[name]), flush=True)
            return r

        with Server("granian", "plantrack", env) as ours, Server("granian", "peer", env) as peer:
            checked = same_screens(ours.url, peer.url, tokens)
        print(f"the peer serves the same JSON as plantrack ({checked} screens compared)")
        with Server("granian", "plantrack", env) as s:
            first_rate, tagged = first_reads(s.url, tokens, work)
        print(f"first read of each screen (built and stored): {first_rate:.0f} req/s", flush=True)
        not_modified = script(work, "not-modified", tagged, PATH.format(""))

        for server in ("uvicorn", "granian"):
            run(f"plan screen, {server}", server, "plantrack", screen, CONNECTIONS)
        best = max(("uvicorn", "granian"), key=lambda s: results[f"plan screen, {s}"][0]["rps"])
        ours = results[f"plan screen, {best}"][0]
        ceiling = run(f"bare /health, {best}", best, "plantrack", bare, CONNECTIONS)
        peer = run(f"peer plan screen, {best}", best, "peer", screen, CONNECTIONS)
        unchanged = run(f"plan screen 304, {best}", best, "plantrack", not_modified, CONNECTIONS)

        listed = list_statements(env)
        print(f"list of 20: {listed[1]} statements as stored, {listed[0]} first", flush=True)

        # About 70% of the maximum: each of 16 connections waits between requests.
        target, connections = 0.7 * ours["rps"], 16
        with Server(best, "plantrack", env) as s:

            def paced_script(delay_ms: float) -> Path:
                return script(work, "paced", tokens, PATH.format(""), delay_ms)

            delay_ms = pace(s.url, paced_script, target, connections, min(3, args.seconds))
            lua = paced_script(delay_ms)
            steady = wrk(s.url, lua, args.seconds, connections)
            share = steady["rps"] / ours["rps"] if ours["rps"] else 0.0
            name = f"plan screen paced at {share:.0%} of max (aimed at 70%), {best}"
            results[name] = (steady, s.max_worker_rss())
        print(describe(name, *results[name]), flush=True)

        lines = [
            f"{asyncio.run(pg_version(url))}; {args.referrals:,} referrals in {args.clinics} "
            f"clinics; {args.patients:,} distinct patients' tokens; {WORKERS} workers; wrk -t1 "
            f"-c{CONNECTIONS} {args.seconds} s on the same {os.cpu_count()} cores; the "
            f"patient rate budget raised to {PATIENT_BUDGET:,} a window (still counted)",
            *(describe(name, r, rss) for name, (r, rss) in results.items()),
            f"server picked: {best}",
            f"ratios: plan screen / bare endpoint {ratio(ours['rps'], ceiling['rps'])} (target "
            f"≥ 0.40); plan screen / peer {ratio(ours['rps'], peer['rps'])} (target ≥ 1.5)",
            f"at {share:.0%} of max: p99 / p50 = {ratio(steady['p99_us'], steady['p50_us'])} "
            "(target ≤ 2)",
            f"plan screen 304 / bare endpoint {ratio(unchanged['rps'], ceiling['rps'])} "
            "(target ≥ 0.60)",
            f"first read of each screen (built and stored, 16 in flight): {first_rate:.0f} req/s",
            f"list of 20 referrals: {listed[1]} statements per request as stored "
            f"(target ≤ 3); {listed[0]} on the first read, which builds the 20 rows",
        ]
        refused = {n: r["non2xx"] for n, (r, _) in results.items() if r["non2xx"]}
        if refused:  # a 4xx/5xx measures an error page, not the screen
            raise SystemExit(f"answers other than 2xx/304 in: {refused}")
        record("patient plan screen under load", lines)


if __name__ == "__main__":
    main()

"""Does a worker's memory grow as it serves? Plan screens read in process, RSS every step.

    python -m bench.worker_growth [--reads 200000] [--patients 5000]
    python -m bench.worker_growth --quick     # 20,000 reads of 1,000 patients' screens
    python -m bench.worker_growth --smoke     # 2,000 reads, nothing recorded

A small city (`bench.city`) in a throwaway PostgreSQL; a fresh process (spawned, so the
city's building is not in its heap) is the worker: the app built as a server builds it,
its lifespan entered, and `GET /api/v1/me/referrals/{id}` sent through httpx's ASGI
transport (16 at a time, patients in turn, as
`bench.plan_screen`'s tokens: distinct patients beyond the token cache's 5,000 if
`--patients` says so). RSS (VmRSS) is printed after the first tenth of the reads (the
warm-up: pools, caches and first-use imports filled) and after every tenth since; the
result is the growth from there to the end. The patient rate budget is raised out of
reach (still counted), as in `bench.plan_screen`.
"""

import argparse
import asyncio
import multiprocessing
import os
import time
from itertools import cycle

import httpx

from bench import city
from bench.common import pg_version, record, sized
from bench.plan_screen import PATH, PATIENT_BUDGET

IN_FLIGHT = 16


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


async def serve(env: dict[str, str], pairs: list[list[str]], reads: int) -> tuple[list, dict]:
    from backend.app import create_app
    from backend.settings import load_settings

    requests = cycle([(PATH.format(referral), f"Bearer {token}") for token, referral in pairs])
    app = create_app(load_settings(env))
    step = max(1, reads // 10)
    samples: list[float] = []
    statuses: dict[int, int] = {}
    done = 0
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:

            async def reader() -> None:
                nonlocal done
                while done < reads:
                    done += 1
                    n = done
                    path, auth = next(requests)
                    answer = await client.get(path, headers={"authorization": auth})
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    if n % step == 0:
                        samples.append(rss_mb())
                        print(f"  {n:>9,} reads: RSS {samples[-1]:.1f} MB", flush=True)

            await asyncio.gather(*(reader() for _ in range(IN_FLIGHT)))
    return samples, statuses


def serve_in_process(env: dict[str, str], pairs: list[list[str]], reads: int) -> tuple:
    return asyncio.run(serve(env, pairs, reads))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--patients", type=int, default=5000, help="distinct tokens")
    parser.add_argument("--referrals", type=int, default=10_000)
    args = sized(
        parser,
        quick={"reads": 20_000, "patients": 1000},
        smoke={"reads": 2000, "patients": 50, "referrals": 300},
    )
    clinics = 5 if args.smoke else 50
    budget = str(PATIENT_BUDGET)
    with city.throwaway(
        "worker-growth", args.referrals, clinics, args.patients, PLANTRACK_RATE_LIMIT_PATIENT=budget
    ) as c:
        began = time.perf_counter()
        pairs = [line.split() for line in c.tokens.read_text().splitlines()]
        with multiprocessing.get_context("spawn").Pool(1) as worker:
            samples, statuses = worker.apply(serve_in_process, (c.env, pairs, args.reads))
        took = time.perf_counter() - began
        version = asyncio.run(pg_version(c.url))
    warm, last = samples[0], samples[-1]
    per_10k = (last - warm) / max(1, args.reads - args.reads // 10) * 10_000
    record(
        "worker memory while serving plan screens",
        [
            f"{version}; {args.referrals:,} referrals in {clinics} clinics; "
            f"{args.patients:,} patients' tokens in turn; a fresh process with the app in it, "
            f"httpx ASGI transport, {IN_FLIGHT} reads at a time",
            f"{args.reads:,} reads in {took:.0f} s; answers: "
            + ", ".join(f"{n:,} × {status}" for status, n in sorted(statuses.items())),
            "RSS every tenth of the reads (MB): " + ", ".join(f"{mb:.1f}" for mb in samples),
            f"growth after the first tenth: {last - warm:+.1f} MB "
            f"({per_10k:+.2f} MB per 10,000 reads)",
        ],
    )


if __name__ == "__main__":
    main()

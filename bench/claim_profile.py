"""Where a clinic claim's time goes, in-process (no HTTP): statements and CPU per claim.

    python -m bench.claim_profile [--referrals 2000] [--claims 1000] [--top 25]
    python -m bench.claim_profile --quick             # 500 claims

Builds a small city in a throwaway PostgreSQL cluster, then records payment claims on
open referrals through `services.claims.record_clinic_claim` (the door every clinic
system uses) one after another, and prints: claims per second on one core, statements
sent to the database per claim (counted at the driver), and the functions that take the
most time (cProfile, cumulative). What `bench.write_path` measures through the server,
this explains.
"""

import argparse
import asyncio
import cProfile
import io
import pstats
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import city
from bench.common import pg_version, record, sized
from bench.write_path import open_referrals


class StatementCounter:
    """Counts the statements asyncpg sends (every path of Piccolo's engine ends here)."""

    def __init__(self) -> None:
        import asyncpg.connection

        self.n = 0
        self.log: list[str] | None = None
        for name in ("fetch", "execute", "fetchrow", "fetchval", "executemany"):
            original = getattr(asyncpg.connection.Connection, name)
            setattr(asyncpg.connection.Connection, name, self._wrap(original))

    def _wrap(self, original):
        counter = self

        async def counted(conn, *args, **kwargs):
            counter.n += 1
            if counter.log is not None:
                counter.log.append(" ".join(str(args[0]).split())[:160])
            return await original(conn, *args, **kwargs)

        return counted


async def run(url: str, work: Path, clinics: int, claims: int, top: int) -> None:
    from backend.domain.claims import PaymentIn
    from backend.domain.events import Source
    from backend.services.claims import record_clinic_claim
    from backend.settings import load_settings
    from backend.store.engine import close_engine, open_engine

    settings = load_settings(city.env(url, work))
    engine = await open_engine(settings)
    now = datetime.now(UTC)
    try:
        targets = []
        for n in range(min(clinics, 10)):
            targets += await open_referrals(n, clinics, now)
        counter = StatementCounter()
        claim = PaymentIn(amount=150_000)

        async def one(i: int) -> None:
            await record_clinic_claim(
                targets[i % len(targets)],
                claim,
                source=Source.clinic_panel,
                actor="bench",
                idempotency_key=f"profile:{i}",
            )

        for i in range(20):  # warm caches and prepared statements
            await one(-1 - i)
        counter.log = []
        await one(-100)
        print(f"the statements of one claim ({len(counter.log)}):")
        for sql in counter.log:
            print("  ", sql)
        counter.log = None
        counter.n = 0
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(claims):
            await one(i)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        record(
            "write path: one claim at a time, in-process",
            [
                f"{await pg_version(url)}; {len(targets)} open referrals; "
                "services.claims.record_clinic_claim, no HTTP",
                f"{claims:,} claims one after another: {claims / took:,.0f} claims/s "
                f"({took / claims * 1000:.2f} ms each); "
                f"{counter.n / claims:.1f} statements per claim; this process's CPU "
                f"{cpu / claims * 1000:.2f} ms a claim (the rest is waiting on PostgreSQL)",
            ],
        )
        profile = cProfile.Profile()
        profile.enable()
        for i in range(claims, claims + min(claims, 300)):
            await one(i)
        profile.disable()
        print("under the profiler (cumulative):")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
        print(out.getvalue())
    finally:
        await close_engine(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=2000)
    parser.add_argument("--clinics", type=int, default=20)
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    args = sized(
        parser,
        quick={"claims": 500},
        smoke={"referrals": 300, "clinics": 5, "claims": 30, "top": 5},
    )
    with city.throwaway("claim-profile", args.referrals, args.clinics) as c:
        asyncio.run(run(c.url, c.work, args.clinics, args.claims, args.top))


if __name__ == "__main__":
    main()

"""Where a patient's answer's time goes, in-process: statements and CPU per answer.

    python -m bench.answer_profile [--referrals 3000] [--answers 1000] [--top 25]
    python -m bench.answer_profile --quick             # 500 answers

Builds a small city in a throwaway PostgreSQL cluster, opens questions as
`bench.answers` does, then sends the answers one after another to the app in this
process (httpx's ASGI transport, no sockets): `POST /api/v1/me/questions/{id}/answer`,
"yes" with its own Idempotency-Key and the patient's access token, as the app sends
it, so the route layer's statements (the session, the key, the patient's language) are
counted with the service's. Prints one answer's statements as sent, then answers per
second on one core, statements per answer (counted at the driver), this process's CPU
per answer, and the functions that take the most time (cProfile, cumulative). What
`bench.answers` measures through the server, this explains.
"""

import argparse
import asyncio
import cProfile
import io
import pstats
import time
import uuid
from collections import Counter

from bench import city
from bench.common import pg_version, record, sized

WARM = 20  # answers before measuring: caches and prepared statements
TALLY = 100  # answers whose statements are tallied by kind


async def run(
    env: dict[str, str],
    url: str,
    pairs: list[tuple[str, str]],
    n: int,
    top: int,
    stats: str | None,
) -> None:
    import httpx

    from backend.app import create_app
    from backend.settings import load_settings
    from bench.claim_profile import StatementCounter
    from tests.conftest import running

    app = create_app(load_settings(env))
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            counter = StatementCounter()
            answered = iter(pairs)

            async def one() -> None:
                token, question = next(answered)
                r = await client.post(
                    f"/api/v1/me/questions/{question}/answer",
                    json={"answer": "yes"},
                    headers={
                        "authorization": f"Bearer {token}",
                        "idempotency-key": str(uuid.uuid4()),
                    },
                )
                if r.status_code != 200:
                    raise SystemExit(f"answer {question}: {r.status_code} {r.text}")

            for _ in range(WARM):  # warm caches and prepared statements
                await one()
            counter.log = []
            await one()
            print(f"the statements of one answer ({len(counter.log)}):")
            for sql in counter.log:
                print("  ", sql)
            counter.log = None
            counter.n = 0
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                await one()
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            statements = counter.n
            # The statements not in every answer: what the sample above did not show.
            counter.log = []
            for _ in range(TALLY):
                await one()
            kinds = Counter(sql[:70] for sql in counter.log)
            print(f"statements by kind over the next {TALLY} answers:")
            for sql, times in kinds.most_common():
                print(f"  {times:5} {sql}")
            counter.log = None
            record(
                "write path: one patient answer at a time, in-process",
                [
                    f"{await pg_version(url)}; POST /api/v1/me/questions/{{id}}/answer through "
                    "the app in this process (httpx ASGI transport, no sockets), each with an "
                    "Idempotency-Key",
                    f"{n:,} answers one after another: {n / took:,.0f} answers/s "
                    f"({took / n * 1000:.2f} ms each); {statements / n:.1f} statements per "
                    f"answer; this process's CPU {cpu / n * 1000:.2f} ms an answer (the rest "
                    "is waiting on PostgreSQL)",
                ],
            )
            if top:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(n // 2):
                    await one()
                profile.disable()
                if stats:
                    profile.dump_stats(stats)
                print("under the profiler (cumulative):")
                out = io.StringIO()
                pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
                print(out.getvalue())


def main() -> None:
    from bench.answers import open_questions

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=3000)
    parser.add_argument("--clinics", type=int, default=20)
    parser.add_argument("--answers", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--stats", help="also write the profile here (for pstats)")
    args = sized(
        parser,
        quick={"answers": 500},
        smoke={"referrals": 300, "clinics": 5, "answers": 60, "top": 5},
    )
    with city.throwaway("answer-profile", args.referrals, args.clinics) as c:
        # The warm-up, the one printed, the measured, the tallied, the profiled.
        wanted = WARM + 1 + args.answers + TALLY + args.answers // 2
        lines = asyncio.run(open_questions(c.url, c.work, args.referrals, wanted))
        pairs = [tuple(line.split()) for line in lines.read_text().splitlines() if line]
        if len(pairs) < wanted:
            raise SystemExit(f"only {len(pairs)} open questions: a bigger city (--referrals)")
        asyncio.run(run(c.env, c.url, pairs[:wanted], args.answers, args.top, args.stats))


if __name__ == "__main__":
    main()

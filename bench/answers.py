"""The patient's write path: answers to verification questions per second through the
real server.

    python -m bench.answers [--referrals 20000] [--questions 12000] [--seconds 15]
    python -m bench.answers --quick            # 5,000 referrals, 4,000 questions, 5 s

Each answer is `POST /api/v1/me/questions/{id}/answer` ("yes", with its own
Idempotency-Key, as the app sends it) by the patient the question was put to, with an
access token as the app holds it, for a question still open in a city from
`bench.city` (the clinic said a procedure was done; the patient confirms it): token
check, the key kept for a retry, then in one transaction the question, the referral's
lock, the answer in the ledger through the recording (verification, questions, funnel
facts, timers, the patient's change note), the question marked answered. wrk drives it
from a separate process, each question answered once; the server and workers as
`bench.plan_screen` and `bench.write_path` run them. Afterwards the ledger is counted:
every acknowledged answer must be there exactly once.
"""

import argparse
import asyncio
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import city
from bench.common import keys_in_ledger, ledger_check, pg_version, record, sized, wrk_posts
from bench.plan_screen import WORKERS, Server, describe, wrk

CONNECTIONS = 32
TARGET = 1000  # answers a second (issue 21)

# Each question once, in order; past the last one the answers are 409s (counted).
ONCE_EACH = "targets[math.min(n, #targets)]"


QUESTIONS_SQL = """
INSERT INTO question (id, referral, patient, kind, milestone, subject, about_at, item_id,
                      status, asked_at, expires_at)
SELECT gen_random_uuid(), e.referral, r.patient, 'confirm_item',
       'item:' || (e.payload->>'item_id'), 'claim:' || e.id, e.occurred_at,
       (e.payload->>'item_id')::uuid, 'requested', e.occurred_at + interval '5 minutes',
       now() + interval '30 days'
  FROM event e JOIN referral r ON r.id = e.referral
 WHERE e.referral = $1 AND e.kind = 'item_done'
   AND NOT EXISTS (SELECT 1 FROM event a WHERE a.referral = e.referral
                      AND a.kind = 'patient_answer'
                      AND a.payload->>'milestone' = 'item:' || (e.payload->>'item_id'))
   AND NOT EXISTS (SELECT 1 FROM question q WHERE q.referral = e.referral
                      AND q.milestone = 'item:' || (e.payload->>'item_id'))
"""


async def open_questions(url: str, work: Path, referrals: int, wanted: int) -> Path:
    """Open questions on referrals still in treatment, about `wanted` of them: each
    referral's derived rows written as the service writes them (the city loads only
    ledgers and facts), then a question for every procedure the clinic said was done
    and the patient has not confirmed (as the recording asks it; the city itself keeps
    only the latest ones open, as of its own fixed day). Written as 'token question'
    lines for the wrk script, each with an access token of its patient as the app
    holds it, shuffled so that the connections do not queue on one referral's lock."""
    import asyncpg

    from backend.auth.tokens import PATIENT_AUDIENCE, issue_access, key_ring
    from backend.services.recording import load, refresh
    from backend.settings import load_settings
    from backend.store import referrals as referral_rows
    from backend.store.engine import close_engine, open_engine, write_transaction

    settings = load_settings(city.env(url, work))
    engine = await open_engine(settings)
    conn = await asyncpg.connect(url)
    ring = key_ring(settings)
    now = datetime.now(UTC)
    lines: list[str] = []
    try:
        await conn.execute(
            "UPDATE question SET expires_at = now() + interval '30 days' WHERE status = 'requested'"
        )
        for n in range(referrals):
            if len(lines) >= wanted:
                break
            referral_id = city.referral_id(n)
            async with write_transaction():
                referral = await referral_rows.lock(referral_id)
                assert referral is not None
                fold = await refresh(referral, await load(referral_id), now)
            if fold.step.value not in ("booked", "visited", "in_treatment"):
                continue
            await conn.execute(QUESTIONS_SQL, referral_id)
            asked = await conn.fetch(
                "SELECT id FROM question WHERE referral = $1 AND status = 'requested'",
                referral_id,
            )
            token = issue_access(
                ring,
                subject=city.patient_id(n),
                session=city.session_family(n),
                role="patient",
                audience=PATIENT_AUDIENCE,
                ttl=timedelta(hours=3),
                now=now,
            )
            lines += [f"{token} {row['id']}" for row in asked]
    finally:
        await conn.close()
        await close_engine(engine)
    random.Random(21).shuffle(lines)
    target = work / "answers.txt"
    target.write_text("\n".join(lines) + "\n")
    return target


ANSWERS = "kind = 'patient_answer' AND idempotency_key LIKE 'answer:%'"


async def answers_in_ledger(url: str) -> tuple[int, int, int]:
    """Answers recorded by the benchmark's patients, answer keys recorded twice, and
    questions marked answered."""
    import asyncpg

    recorded, repeated = await keys_in_ledger(url, ANSWERS)
    conn = await asyncpg.connect(url)
    try:
        answered = await conn.fetchval(
            "SELECT count(*) FROM question WHERE status = 'completed' AND answer_event_id IN "
            f"(SELECT id FROM event WHERE {ANSWERS})"
        )
        return recorded, repeated, answered
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=20_000)
    parser.add_argument("--clinics", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--questions", type=int, default=12_000, help="open questions to answer")
    parser.add_argument("--server", default="granian", choices=("granian", "uvicorn"))
    args = sized(
        parser,
        quick={"referrals": 5000, "clinics": 20, "seconds": 5, "questions": 4000},
        smoke={"referrals": 300, "clinics": 5, "seconds": 1, "questions": 200},
    )
    with city.throwaway("answers", args.referrals, args.clinics) as c:
        url, work, env = c.url, c.work, c.env
        pairs = asyncio.run(open_questions(url, work, args.referrals, args.questions))
        questions = len(pairs.read_text().splitlines())
        lua = work / "answers.lua"
        path = "/api/v1/me/questions/{}/answer"
        lua.write_text(wrk_posts(pairs, path, '{"answer": "yes"}', pick=ONCE_EACH))
        with Server(args.server, "plantrack", env) as server:
            result = wrk(server.url, lua, args.seconds, CONNECTIONS)
            rss = server.max_worker_rss()
        recorded, repeated, answered = asyncio.run(answers_in_ledger(url))
        done, once = ledger_check(result, recorded, repeated, CONNECTIONS)
        line = describe(f"patient answers, {args.server}", result, rss)
        print(line)
        # Every acknowledged answer is in the ledger once, its question answered.
        whole = once and answered == recorded
        ran_out = result["requests"] > questions
        record(
            "write path: patient answers",
            [
                f"{asyncio.run(pg_version(url))}; {args.referrals:,} referrals in "
                f"{args.clinics} clinics; {questions:,} open questions, each answered once "
                f"(yes, with an Idempotency-Key); {WORKERS} workers; wrk -t1 "
                f"-c{CONNECTIONS} {args.seconds} s on the same {os.cpu_count()} cores",
                line,
                f"acknowledged (2xx) {done:,}, answers in the ledger {recorded:,}, "
                f"questions answered {answered:,}, answer keys recorded twice {repeated}: "
                + (
                    "every acknowledged answer recorded once (the extras were in flight when "
                    "wrk stopped)"
                    if whole
                    else "MISMATCH"
                )
                + ("; the questions ran out before wrk stopped (a bigger city)" if ran_out else ""),
                f"target ≥ {TARGET:,} answers/s: "
                + ("met" if result["rps"] >= TARGET else "missed"),
            ],
        )


if __name__ == "__main__":
    main()

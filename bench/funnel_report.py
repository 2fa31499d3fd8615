"""The month funnel report at 10k, 100k and 1M referrals, beside one hand-written SQL
aggregate over the same facts.

    python -m bench.funnel_report [--sizes 10000,100000,1000000] [--clinics 500]
    python -m bench.funnel_report --quick        # 2k and 20k referrals, 50 clinics

A city's ledger is generated in plain Python (stories over 24 months: booked, visited,
3–15 items done one by one with their payments, patient confirmations, completed,
declined or closed), each referral folded by the domain into its funnel facts (the same
code the service runs on every event), and loaded with COPY: patients, referrals,
~10 events per referral, facts; the monthly sums are then built from the facts as the
migration does. At each size it prints the median time of the last whole month's
report, for all clinics and for one, and of the hand-written aggregate.
"""

import argparse
import asyncio
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from bench.common import record
from tests import pg_cluster

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
MONTH = (date(2026, 10, 1), date(2026, 10, 31))  # the last whole month
ZONES = ["Europe/Moscow", "Asia/Novosibirsk", "Asia/Yekaterinburg", "Europe/Samara"]
NS = UUID("8a3c8c1e-5f7b-4c0a-9a51-6c1f3e7b2a90")
SECRET = "b" * 40


def clinic_id(n: int) -> UUID:
    return uuid5(NS, f"clinic:{n}")


def story(n: int, clinics: int) -> tuple[list, list, list, list]:
    """One referral: its patient, referral, event and fact rows, for COPY."""
    import msgspec

    from backend.domain.events import (
        Closed,
        Completed,
        Contacted,
        Event,
        ItemDone,
        PatientAnswer,
        Payment,
        PlanLine,
        PlanSet,
        Sent,
        Source,
        Visited,
        side_of,
    )
    from backend.domain.funnel_facts import referral_facts

    rng = random.Random(n)
    clinic = n % clinics
    tz = ZoneInfo(ZONES[clinic % len(ZONES)])
    rid, pid = uuid5(NS, f"referral:{n}"), uuid5(NS, f"patient:{n}")
    sent_at = NOW - timedelta(days=rng.uniform(0, 730))
    lines = [
        PlanLine(
            item_id=uuid5(NS, f"item:{n}:{k}"),
            price=rng.randint(10, 600) * 100_00,
            specialization=rng.choice(["therapy", "endodontics", "implantology", "orthopedics"]),
        )
        for k in range(rng.randint(3, 15))
    ]
    said: list[tuple[object, Source, datetime]] = [
        (
            PlanSet(
                plan_id=uuid5(NS, f"plan:{n}"),
                version=1,
                origin="estimated",
                currency="RUB",
                lines=lines,
            ),
            Source.exchange,
            sent_at,
        ),
        (Sent(clinic_id=clinic_id(clinic)), Source.exchange, sent_at),
    ]
    at = sent_at + timedelta(hours=rng.uniform(1, 48))
    fate = rng.random()
    if fate < 0.1:
        said.append(
            (
                Contacted(outcome="declined", reason=rng.choice(["price", "moved"])),
                Source.clinic_panel,
                at,
            )
        )
    elif fate < 0.9:
        visit = at + timedelta(days=rng.uniform(1, 10))
        said.append(
            (
                Contacted(
                    outcome="booked", appointment_at=visit, appointment_id=uuid5(NS, f"appt:{n}")
                ),
                Source.clinic_panel,
                at,
            )
        )
        said.append((Visited(), Source.clinic_panel, visit))
        done_at = visit
        for line in lines:
            done_at += timedelta(days=rng.uniform(1, 30))
            if done_at > NOW or rng.random() < 0.08:
                break
            said.append((ItemDone(item_id=line.item_id), Source.clinic_panel, done_at))
            said.append((Payment(amount=line.price), Source.clinic_panel, done_at))
            if rng.random() < 0.3:
                said.append(
                    (
                        PatientAnswer(
                            question_id=uuid5(NS, f"q:{n}:{line.item_id}"),
                            milestone=f"item:{line.item_id}",
                            answer="yes" if rng.random() < 0.95 else "no",
                        ),
                        Source.patient_app,
                        done_at + timedelta(hours=3),
                    )
                )
        else:
            if done_at + timedelta(days=2) < NOW:
                said.append((Completed(), Source.clinic_panel, done_at + timedelta(days=1)))
        if fate > 0.85 and done_at + timedelta(days=20) < NOW:
            said.append(
                (
                    Closed(reason="patient stopped"),
                    Source.clinic_panel,
                    done_at + timedelta(days=20),
                )
            )
    said = [(b, s, t) for b, s, t in said if t <= NOW]
    events = [
        Event(
            id=n * 100 + k,
            referral_id=rid,
            source=source,
            side=side_of(source, body),
            actor="bench",
            occurred_at=t,
            recorded_at=t,
            idempotency_key=f"bench:{n}:{k}",
            body=body,
        )
        for k, (body, source, t) in enumerate(said)
    ]
    facts = referral_facts(events, tz, NOW)
    patient = (pid, f"+7900{n:07d}", f"{n}", "ru", tz.key, sent_at)
    referral = (rid, pid, clinic_id(clinic), f"B{n:09d}", sent_at, sent_at, sent_at)
    event_rows = [
        (
            e.id,
            rid,
            e.kind,
            e.source.value,
            e.side.value,
            e.actor,
            e.occurred_at,
            e.recorded_at,
            e.idempotency_key,
            msgspec.json.encode(e.body).decode(),
        )
        for e in events
    ]
    fact_rows = [
        (
            rid,
            clinic_id(clinic),
            facts.sent_day,
            facts.cohort,
            facts.specialization,
            f.day,
            f.day.strftime("%Y-%m"),
            f.kind,
            f.amount,
            f.count,
            f.split,
            f.reason,
            facts.currency,
        )
        for f in (facts.facts if facts else ())
    ]
    return [patient], [referral], event_rows, fact_rows


def chunk(args: tuple[int, int, int]) -> tuple[list, list, list, list]:
    start, stop, clinics = args
    out: tuple[list, list, list, list] = ([], [], [], [])
    for n in range(start, stop):
        for bucket, rows in zip(out, story(n, clinics), strict=True):
            bucket.extend(rows)
    return out


async def load(url: str, start: int, stop: int, clinics: int, pool: ProcessPoolExecutor) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    size = 5000
    events = 0
    try:
        jobs = [(s, min(stop, s + size), clinics) for s in range(start, stop, size)]
        loop = asyncio.get_running_loop()
        futures = [loop.run_in_executor(pool, chunk, job) for job in jobs]
        for done, future in enumerate(futures, start=1):
            patients, referrals, event_rows, facts = await future
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "patient",
                    records=patients,
                    columns=["id", "phone", "name", "locale", "timezone", "created_at"],
                )
                await conn.copy_records_to_table(
                    "referral",
                    records=referrals,
                    columns=[
                        "id",
                        "patient",
                        "clinic",
                        "invite_code",
                        "sent_at",
                        "created_at",
                        "updated_at",
                    ],
                )
                await conn.copy_records_to_table(
                    "event",
                    records=event_rows,
                    columns=[
                        "id",
                        "referral",
                        "kind",
                        "source",
                        "side",
                        "actor",
                        "occurred_at",
                        "recorded_at",
                        "idempotency_key",
                        "payload",
                    ],
                )
                await conn.copy_records_to_table(
                    "funnel_fact",
                    records=facts,
                    columns=[
                        "referral",
                        "clinic",
                        "sent_day",
                        "cohort",
                        "specialization",
                        "day",
                        "month",
                        "kind",
                        "amount",
                        "count",
                        "split",
                        "reason",
                        "currency",
                    ],
                )
            events += len(event_rows)
            print(f"  loaded {min(stop, start + done * size)}/{stop} referrals", flush=True)
        await conn.execute("TRUNCATE funnel_month")
        await conn.execute(
            "INSERT INTO funnel_month (clinic, cohort, specialization, month, kind, split, reason, "
            "amount, count) SELECT clinic, cohort, specialization, month, kind, split, reason, "
            "SUM(amount), SUM(count) FROM funnel_fact "
            "GROUP BY clinic, cohort, specialization, month, kind, split, reason"
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return events


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


async def measure(url: str, var: Path, runs: int) -> dict[str, float]:
    import asyncpg

    from backend.services import health_stats, plan_fact, reports
    from backend.settings import load_settings
    from backend.store.engine import close_engine, open_engine

    settings = load_settings(
        {
            "PLANTRACK_DATABASE_URL": url,
            "PLANTRACK_VAR_DIR": str(var),
            "PLANTRACK_SECRET_KEY": SECRET,
        }
    )
    engine = await open_engine(settings)
    conn = await asyncpg.connect(url)
    one = [clinic_id(7)]
    keys = ("all", "one", "sql_all", "sql_one", "plan_fact", "health")
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
                await reports.funnel(scope, first=MONTH[0], last=MONTH[1])
                timings[key].append(time.perf_counter() - started)
            for key, scope, args in (
                ("sql_all", "", ()),
                ("sql_one", "AND clinic = $3", tuple(one)),
            ):
                started = time.perf_counter()
                await conn.fetch(HAND_WRITTEN.format(scope=scope), *MONTH, *args)
                timings[key].append(time.perf_counter() - started)
    finally:
        await conn.close()
        await close_engine(engine)
    return {k: median(v) * 1000 for k, v in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--clinics", type=int, default=500)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="2k and 20k referrals, 50 clinics")
    args = parser.parse_args()
    sizes = [2000, 20000] if args.quick else [int(s) for s in args.sizes.split(",")]
    clinics = 50 if args.quick else args.clinics

    var = Path(tempfile.mkdtemp(prefix="plantrack-bench-"))
    base = pg_cluster.temp_base()
    url = pg_cluster.start(base, extra_conf="shared_buffers = 512MB\nwork_mem = 64MB")
    lines, loaded, events = [], 0, 0
    try:
        asyncio.run(prepare(url, var, clinics))
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for size in sizes:
                started = time.perf_counter()
                events += asyncio.run(load(url, loaded, size, clinics, pool))
                took = time.perf_counter() - started
                print(
                    f"{size} referrals, {events} events: generated and loaded in {took:.0f} s "
                    f"({(size - loaded) / took:.0f} referrals/s)",
                    flush=True,
                )
                loaded = size
                ms = asyncio.run(measure(url, var, args.runs))
                line = (
                    f"{size:>9,} referrals, {events:>10,} events: month report all clinics "
                    f"{ms['all']:.1f} ms (hand-written SQL {ms['sql_all']:.1f} ms, ratio "
                    f"{ms['all'] / ms['sql_all']:.2f}); one clinic {ms['one']:.1f} ms (SQL "
                    f"{ms['sql_one']:.1f} ms, ratio {ms['one'] / ms['sql_one']:.2f}); plan vs "
                    f"fact {ms['plan_fact']:.1f} ms; health cells {ms['health']:.0f} ms"
                )
                print(line, flush=True)
                lines.append(line)
        record(
            "funnel month report",
            [
                f"PostgreSQL 15; {clinics} clinics; stories over 24 months; median of "
                f"{args.runs} runs; report = reports.funnel (monthly sums + facts of partial "
                "months); hand-written = one SQL statement over funnel_fact, same figures",
                *lines,
            ],
        )
    finally:
        pg_cluster.stop(base)


async def prepare(url: str, var: Path, clinics: int) -> None:
    from backend.cli import migrate
    from backend.settings import load_settings
    from backend.store import parties
    from backend.store.engine import close_engine, open_engine

    settings = load_settings(
        {
            "PLANTRACK_DATABASE_URL": url,
            "PLANTRACK_VAR_DIR": str(var),
            "PLANTRACK_SECRET_KEY": SECRET,
        }
    )
    await migrate(settings)
    engine = await open_engine(settings)
    for n in range(clinics):
        await parties.insert_clinic(
            clinic_id=clinic_id(n),
            name=f"Клиника {n}",
            city="Москва",
            timezone=ZONES[n % len(ZONES)],
            now=NOW - timedelta(days=800),
        )
    await close_engine(engine)


if __name__ == "__main__":
    main()

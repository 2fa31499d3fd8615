"""A city in PostgreSQL, for the benchmarks: clinics, patients, referrals with plans,
their ledgers over 24 months, funnel facts, devices, open questions and app sessions.

    python -m bench.city --referrals 1000000 [--clinics 500]   # into a throwaway cluster

A benchmark opens with `throwaway(...)`: a city in a PostgreSQL of its own, access tokens
for some of its patients, the settings its servers run with; the cluster is stopped on
the way out, whatever happened.

Each referral is one story (booked, visited, 3–15 items done one by one with payments and
patient confirmations, completed, declined or closed), written as ledger events and
folded by the domain into its funnel facts — the same code the service runs on every
event — so the ledgers and facts are what the service itself would have written (the
referral's other derived rows are not loaded; `plantrack refold` writes them). Stories are made on
every core and loaded with COPY, a transaction per chunk; progress and rows/s are
printed as it goes. Everything is a function of the referral's number, so runs repeat.
"""

import argparse
import asyncio
import hashlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
ZONES = ["Europe/Moscow", "Asia/Novosibirsk", "Asia/Yekaterinburg", "Europe/Samara"]
SPECIALIZATIONS = ["therapy", "endodontics", "implantology", "orthopedics"]
TEETH = [q * 10 + t for q in (1, 2, 3, 4) for t in range(1, 9)]
NS = UUID("8a3c8c1e-5f7b-4c0a-9a51-6c1f3e7b2a90")
SECRET = "b" * 40
CHUNK = 5000
# A benchmark cluster gets memory for the working set; the rest is PostgreSQL's defaults.
PG_CONF = "shared_buffers = 512MB\nwork_mem = 64MB\nmax_connections = 200"

# The summary tables `load` rebuilds from the facts once the stories are in.
REBUILT = ("funnel_month", "funnel_month_flow", "funnel_balance", "funnel_clinic_balance")

# COPY column lists, in the order `story` produces each table's rows.
TABLES: dict[str, list[str]] = {
    "patient": ["id", "phone", "name", "locale", "timezone", "created_at"],
    "referral": ["id", "patient", "clinic", "invite_code", "sent_at", "created_at", "updated_at"],
    "plan": ["id", "referral", "version", "origin", "currency", "created_by", "created_at"],
    "plan_item": [
        "id",
        "plan",
        "item_id",
        "position",
        "stage",
        "specialization",
        "code",
        "title_ru",
        "title_en",
        "tooth",
        "price",
    ],
    "event": [
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
    "funnel_fact": [
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
    "conversion_position": [
        "id",
        "clinic",
        "sent_day",
        "specialization",
        "coordinator",
        "reached",
        "status",
        "transfer",
    ],
    "device": [
        "id",
        "patient",
        "token",
        "kind",
        "platform",
        "app_version",
        "locale",
        "active",
        "created_at",
        "last_seen_at",
    ],
    "patient_session": [
        "id",
        "family",
        "patient",
        "token_hash",
        "created_at",
        "expires_at",
    ],
    "question": [
        "id",
        "referral",
        "patient",
        "kind",
        "milestone",
        "subject",
        "about_at",
        "item_id",
        "status",
        "asked_at",
        "expires_at",
    ],
}

Rows = dict[str, list[tuple]]


@cache
def clinic_id(n: int) -> UUID:
    return uuid5(NS, f"clinic:{n}")


def referral_id(n: int) -> UUID:
    return uuid5(NS, f"referral:{n}")


def patient_id(n: int) -> UUID:
    return uuid5(NS, f"patient:{n}")


def session_family(n: int) -> UUID:
    """The app session of patient n (every patient signed in once); the access token's
    `sid`."""
    return uuid5(NS, f"family:{n}")


def story(n: int, clinics: int) -> Rows:
    """Referral n and everything about it, as rows for COPY."""
    import msgspec

    from backend.domain.conversion import position as conversion_position
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
    from backend.domain.funnel import fold_referral
    from backend.domain.funnel_facts import referral_facts

    rng = random.Random(n)
    clinic = n % clinics
    tz = ZoneInfo(ZONES[clinic % len(ZONES)])
    rid, pid, plan_id = referral_id(n), patient_id(n), uuid5(NS, f"plan:{n}")
    sent_at = NOW - timedelta(days=rng.uniform(0, 730))
    count = rng.randint(3, 15)
    lines = [
        PlanLine(
            item_id=uuid5(NS, f"item:{n}:{k}"),
            price=rng.randint(10, 600) * 100_00,
            specialization=rng.choice(SPECIALIZATIONS),
            stage=1 + k * 3 // count,  # up to three stages
        )
        for k in range(count)
    ]
    said: list[tuple[object, Source, datetime]] = [
        (
            PlanSet(plan_id=plan_id, version=1, origin="estimated", currency="RUB", lines=lines),
            Source.exchange,
            sent_at,
        ),
        (Sent(clinic_id=clinic_id(clinic)), Source.exchange, sent_at),
    ]
    at = sent_at + timedelta(hours=rng.uniform(1, 48))
    fate = rng.random()
    unconfirmed: list[tuple[UUID, datetime]] = []  # items the patient was not asked about yet
    if fate < 0.1:
        reason = rng.choice(["price", "moved"])
        said.append((Contacted(outcome="declined", reason=reason), Source.clinic_panel, at))
    elif fate < 0.9:
        visit = at + timedelta(days=rng.uniform(1, 10))
        booked = Contacted(
            outcome="booked", appointment_at=visit, appointment_id=uuid5(NS, f"appt:{n}")
        )
        said.append((booked, Source.clinic_panel, at))
        said.append((Visited(), Source.clinic_panel, visit))
        done_at = visit
        for line in lines:
            done_at += timedelta(days=rng.uniform(1, 30))
            if done_at > NOW or rng.random() < 0.08:
                break
            said.append((ItemDone(item_id=line.item_id), Source.clinic_panel, done_at))
            said.append((Payment(amount=line.price), Source.clinic_panel, done_at))
            if rng.random() < 0.3:
                answer = PatientAnswer(
                    question_id=uuid5(NS, f"q:{n}:{line.item_id}"),
                    milestone=f"item:{line.item_id}",
                    answer="yes" if rng.random() < 0.95 else "no",
                )
                said.append((answer, Source.patient_app, done_at + timedelta(hours=3)))
            else:
                unconfirmed.append((line.item_id, done_at))
        else:
            if done_at + timedelta(days=2) < NOW:
                said.append((Completed(), Source.clinic_panel, done_at + timedelta(days=1)))
        if fate > 0.85 and done_at + timedelta(days=20) < NOW:
            closed = Closed(reason="patient stopped")
            said.append((closed, Source.clinic_panel, done_at + timedelta(days=20)))
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
    fold = fold_referral(events)
    facts = referral_facts(fold, tz, NOW)
    place = conversion_position(fold, tz)
    rows: Rows = {name: [] for name in TABLES}
    if place is not None:
        rows["conversion_position"].append(
            (
                rid,
                place.clinic_id,
                place.sent_day,
                place.specialization,
                place.coordinator,
                place.reached,
                place.status,
                place.transfer,
            )
        )
    rows["patient"].append((pid, f"+7900{n:07d}", f"Пациент {n}", "ru", tz.key, sent_at))
    rows["referral"].append((rid, pid, clinic_id(clinic), f"B{n:09d}", sent_at, sent_at, sent_at))
    rows["plan"].append((plan_id, rid, 1, "estimated", "RUB", "bench", sent_at))
    rows["plan_item"].extend(
        (
            uuid5(NS, f"plan-item:{n}:{k}"),
            plan_id,
            line.item_id,
            k,
            line.stage,
            line.specialization,
            f"A16.07.{k:03d}",
            f"Услуга {k + 1}",
            f"Service {k + 1}",
            rng.choice(TEETH),
            line.price,
        )
        for k, line in enumerate(lines)
    )
    rows["event"].extend(
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
    )
    rows["funnel_fact"].extend(
        (
            rid,
            clinic_id(clinic),
            facts.sent_day,
            facts.cohort,
            facts.specialization,
            f.day,
            f"{f.day.year}-{f.day.month:02d}",
            f.kind,
            f.amount,
            f.count,
            f.split,
            f.reason,
            facts.currency,
        )
        for f in (facts.facts if facts else ())
    )
    signed_in = sent_at + timedelta(hours=1)
    if n % 10 < 7:  # most patients installed the app
        rows["device"].append(
            (
                uuid5(NS, f"device:{n}"),
                pid,
                f"bench-fcm-{n}",
                "fcm_token",
                "android" if n % 3 else "ios",
                "1.4.0",
                "ru",
                True,
                signed_in,
                signed_in,
            )
        )
    rows["patient_session"].append(
        (
            uuid5(NS, f"session:{n}"),
            session_family(n),
            pid,
            hashlib.sha256(f"bench-refresh:{n}".encode()).hexdigest(),
            signed_in,
            NOW + timedelta(days=60),
        )
    )
    for item_id, done_at in unconfirmed[-2:]:  # the latest claims still wait for the patient
        if done_at > NOW - timedelta(days=7):
            rows["question"].append(
                (
                    uuid5(NS, f"question:{n}:{item_id}"),
                    rid,
                    pid,
                    "confirm_item",
                    f"item:{item_id}",
                    f"claim:{item_id}",
                    done_at,
                    item_id,
                    "requested",
                    done_at + timedelta(minutes=5),
                    done_at + timedelta(days=7),
                )
            )
    return rows


def chunk(args: tuple[int, int, int]) -> Rows:
    start, stop, clinics = args
    out: Rows = {name: [] for name in TABLES}
    for n in range(start, stop):
        for name, rows in story(n, clinics).items():
            out[name].extend(rows)
    return out


def env(url: str, work: Path) -> dict[str, str]:
    """The settings a benchmark's servers and scripts run with."""
    return {
        "PLANTRACK_DATABASE_URL": url,
        "PLANTRACK_VAR_DIR": str(work),
        "PLANTRACK_SECRET_KEY": SECRET,
        "PLANTRACK_LOG_LEVEL": "WARNING",
    }


def build(url: str, work: Path, referrals: int, clinics: int) -> int:
    """Migrate an empty database and fill it with a city; returns the events loaded."""
    asyncio.run(add_clinics(url, work, clinics))
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return grow(url, 0, referrals, clinics, pool)


async def add_clinics(url: str, var: Path, clinics: int) -> None:
    """Migrate an empty database and add the city's clinics."""
    from backend.cli import migrate
    from backend.settings import load_settings
    from backend.store import parties
    from backend.store.engine import close_engine, open_engine

    settings = load_settings(env(url, var))
    await migrate(settings)
    engine = await open_engine(settings)
    try:
        for n in range(clinics):
            await parties.insert_clinic(
                clinic_id=clinic_id(n),
                name=f"Клиника {n}",
                city="Москва",
                district=f"Район {n % 12}",
                timezone=ZONES[n % len(ZONES)],
                now=NOW - timedelta(days=800),
            )
    finally:
        await close_engine(engine)


async def load(url: str, start: int, stop: int, clinics: int, pool: ProcessPoolExecutor) -> int:
    """Referrals start..stop into the database; returns the number of events loaded."""
    import asyncpg

    from backend.store.migrations.m0050_funnel_balance_filled import FILL as FILL_BALANCES
    from backend.store.migrations.m0052_funnel_month_flow_filled import (
        FILL as FILL_FLOWS,
    )
    from backend.store.migrations.m0052_funnel_month_flow_filled import (
        FILL_CLINIC_BALANCES,
    )

    conn = await asyncpg.connect(url)
    events = rows = 0
    began = time.perf_counter()
    try:
        jobs = [(s, min(stop, s + CHUNK), clinics) for s in range(start, stop, CHUNK)]
        loop = asyncio.get_running_loop()
        futures = [loop.run_in_executor(pool, chunk, job) for job in jobs]
        for job, future in zip(jobs, futures, strict=True):
            made = await future
            async with conn.transaction():
                for name, columns in TABLES.items():
                    if made[name]:
                        await conn.copy_records_to_table(name, records=made[name], columns=columns)
            events += len(made["event"])
            rows += sum(len(r) for r in made.values())
            took = time.perf_counter() - began
            done = job[1] - start
            print(
                f"\r  {job[1]:>9,}/{stop:,} referrals {done / (stop - start):6.1%}  "
                f"{rows / took:8,.0f} rows/s  {done / took:6,.0f} referrals/s",
                end="" if sys.stdout.isatty() else "\n",
                flush=True,
            )
        if sys.stdout.isatty():
            print()
        # The monthly sums, built from the facts the way migration m0012 does.
        await conn.execute("TRUNCATE funnel_month")
        await conn.execute(
            "INSERT INTO funnel_month (clinic, cohort, specialization, month, kind, split, reason, "
            "amount, count) SELECT clinic, cohort, specialization, month, kind, split, reason, "
            "SUM(amount), SUM(count) FROM funnel_fact "
            "GROUP BY clinic, cohort, specialization, month, kind, split, reason"
        )
        # The month's flows without the cohort, from the monthly sums as m0052 does.
        await conn.execute("TRUNCATE funnel_month_flow")
        await conn.execute(FILL_FLOWS)
        # The reserve's running balances, from the monthly sums as migration m0050 does.
        await conn.execute("TRUNCATE funnel_balance")
        await conn.execute("TRUNCATE funnel_clinic_balance")
        await conn.execute(FILL_BALANCES)
        await conn.execute(FILL_CLINIC_BALANCES)
        # Events came with their own ids: the service's next one follows them.
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('event', 'id'), "
            "(SELECT COALESCE(max(id), 1) FROM event))"
        )
        # The tables rebuilt above as autovacuum would leave them in a running database
        # (their pages marked all-visible, which index-only scans rely on), so that what
        # is measured does not depend on whether autovacuum has come round yet.
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(REBUILT)}")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return events


def grow(url: str, loaded: int, size: int, clinics: int, pool: ProcessPoolExecutor) -> int:
    """Add referrals loaded..size; prints what it took and returns the events added."""
    started = time.perf_counter()
    events = asyncio.run(load(url, loaded, size, clinics, pool))
    took = time.perf_counter() - started
    print(
        f"{size - loaded:,} referrals, {events:,} events generated and loaded in {took:.0f} s "
        f"({(size - loaded) / took:,.0f} referrals/s, {events / took:,.0f} events/s)",
        flush=True,
    )
    return events


def mint_tokens(work: Path, patients: int, referrals: int, settings_env: dict) -> Path:
    """Access tokens for patients spread over the whole city, as the app would hold: a
    file of lines `token referral_id`."""
    from backend.auth.tokens import PATIENT_AUDIENCE, issue_access, key_ring
    from backend.settings import load_settings

    ring = key_ring(load_settings(settings_env))
    now = datetime.now(UTC)
    step = max(1, referrals // patients)
    lines = []
    for n in range(0, step * patients, step):
        token = issue_access(
            ring,
            subject=patient_id(n),
            session=session_family(n),
            role="patient",
            audience=PATIENT_AUDIENCE,
            ttl=timedelta(hours=3),
            now=now,
        )
        lines.append(f"{token} {referral_id(n)}")
    target = work / "tokens.txt"
    target.write_text("\n".join(lines) + "\n")
    return target


@dataclass(frozen=True)
class Throwaway:
    """A benchmark's city, while its `with` block runs."""

    url: str  # the PostgreSQL it is in
    base: Path  # that cluster's directory
    work: Path  # the benchmark's own directory (PLANTRACK_VAR_DIR)
    env: dict[str, str]  # the settings its servers and scripts run with
    tokens: Path | None  # from `mint_tokens`, when patients' tokens were asked for


@contextmanager
def throwaway(
    name: str, referrals: int, clinics: int, patients: int = 0, **settings: str
) -> Iterator[Throwaway]:
    """A city of `referrals` in `clinics` in a throwaway PostgreSQL, with access tokens
    for `patients` of its patients (none when 0); `settings` (PLANTRACK_… variables) are
    added to the environment (`env`). The cluster is stopped when the block ends."""
    from tests import pg_cluster

    work = Path(tempfile.mkdtemp(prefix=f"plantrack-{name}-"))
    base = pg_cluster.temp_base()
    url = pg_cluster.start(base, extra_conf=PG_CONF)
    try:
        settings_env = {**env(url, work), **settings}
        build(url, work, referrals, clinics)
        tokens = mint_tokens(work, patients, referrals, settings_env) if patients else None
        yield Throwaway(url=url, base=base, work=work, env=settings_env, tokens=tokens)
    finally:
        pg_cluster.stop(base)


def main() -> None:
    from tests import pg_cluster

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--clinics", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="plantrack-city-"))
    base = pg_cluster.temp_base()
    url = pg_cluster.start(base, extra_conf=PG_CONF)
    try:
        build(url, var, args.referrals, args.clinics)
        if args.keep:
            print(f"PostgreSQL left at {url}; stop: python -m tests.pg_cluster stop {base}")
    finally:
        if not args.keep:
            pg_cluster.stop(base)


if __name__ == "__main__":
    main()

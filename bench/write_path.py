"""The write path: clinic claims per second through the real server.

    python -m bench.write_path [--referrals 20000] [--seconds 15]
    python -m bench.write_path --quick            # 2,000 referrals, 5 s runs

Each claim is `POST /api/v1/clinic/referrals/{id}/claims` (a payment, with its own
Idempotency-Key) by a clinic coordinator's session for a referral of their clinic in a
city from `bench.city`: staff session check, scope check, then in one transaction the
ledger event, the referral's fold and derived rows (step, money, verifications,
questions, funnel facts and monthly sums) and the outbox. wrk drives it from a separate
process; 2 workers under the server `bench.plan_screen` picked. Afterwards the ledger is
counted: every acknowledged claim must be there exactly once.
"""

import argparse
import asyncio
import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import city
from bench.common import keys_in_ledger, ledger_check, pg_version, record, sized, wrk_posts
from bench.plan_screen import WORKERS, Server, describe, wrk

STAFF = 20  # coordinators, one per clinic
PER_STAFF = 100  # referrals each writes to
CONNECTIONS = 32


async def staff_token(role: str, clinic: int | None, email: str, now: datetime) -> str:
    """A signed-in staff member's bearer token (the session made as sign-in makes it)."""
    from backend.domain.roles import Role
    from backend.runtime.ids import new_id
    from backend.services.staff import add_staff
    from backend.store import staff_sessions

    staff = await add_staff(
        email=email,
        role=Role(role),
        password=secrets.token_urlsafe(16),
        clinic_id=None if clinic is None else city.clinic_id(clinic),
    )
    token = secrets.token_urlsafe(32)
    await staff_sessions.insert(
        session_id=new_id(),
        staff_id=staff.staff_id,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        now=now,
        expires_at=now + timedelta(hours=12),
        ip="127.0.0.1",
        user_agent="bench",
    )
    return token


async def coordinators(url: str, work: Path, clinics: int, staff: int = STAFF) -> Path:
    """A signed-in coordinator per clinic (of the first `staff` clinics), each with open
    referrals of their clinic to write to; written as 'token referral' lines for the wrk
    script."""
    from backend.settings import load_settings
    from backend.store.engine import close_engine, open_engine

    settings = load_settings(city.env(url, work))
    engine = await open_engine(settings)
    lines = []
    now = datetime.now(UTC)
    try:
        for n in range(min(staff, clinics)):
            email = f"coordinator{n}@bench.plantrack"
            token = await staff_token("clinic_coordinator", n, email, now)
            lines += [f"{token} {rid}" for rid in await open_referrals(n, clinics, now)]
    finally:
        await close_engine(engine)
    target = work / "claims.txt"
    target.write_text("\n".join(lines) + "\n")
    return target


async def open_referrals(clinic: int, clinics: int, now: datetime) -> list[str]:
    """Referrals of one clinic still in treatment, their derived rows written as the
    service writes them (the city loads only ledgers and funnel facts)."""
    from backend.services.recording import load, refresh
    from backend.store import referrals
    from backend.store.engine import write_transaction

    found: list[str] = []
    for j in range(PER_STAFF * 3):
        referral_id = city.referral_id(clinic + clinics * j)
        async with write_transaction():
            referral = await referrals.lock(referral_id)
            if referral is None:
                break
            fold = await refresh(referral, await load(referral_id), now)
        if fold.step.value in ("booked", "visited", "in_treatment"):
            found.append(str(referral_id))
        if len(found) == PER_STAFF:
            break
    return found


def claims_script(work: Path, pairs: Path, delay_ms: float = 0, name: str = "claims") -> Path:
    """The wrk script for claims; with `delay_ms`, each connection waits between requests."""
    target = work / f"{name}.lua"
    path, body = "/api/v1/clinic/referrals/{}/claims", '{"kind": "payment", "amount": 150000}'
    target.write_text(
        wrk_posts(pairs, path, body, pick="targets[math.random(#targets)]", delay_ms=delay_ms)
    )
    return target


async def claims_in_ledger(url: str) -> tuple[int, int]:
    """Claims the benchmark recorded, and how many idempotency keys appear twice."""
    return await keys_in_ledger(url, "source = 'clinic_panel' AND idempotency_key LIKE 'panel:%'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=20_000)
    parser.add_argument("--clinics", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--server", default="granian", choices=("granian", "uvicorn"))
    args = sized(
        parser,
        quick={"referrals": 2000, "clinics": 20, "seconds": 5},
        smoke={"referrals": 300, "clinics": 5, "seconds": 1},
    )
    with city.throwaway("write-path", args.referrals, args.clinics) as c:
        url, work, env = c.url, c.work, c.env
        pairs = asyncio.run(coordinators(url, work, args.clinics))
        lua = claims_script(work, pairs)
        with Server(args.server, "plantrack", env) as server:
            result = wrk(server.url, lua, args.seconds, CONNECTIONS)
            rss = server.max_worker_rss()
        recorded, repeated = asyncio.run(claims_in_ledger(url))
        done, whole = ledger_check(result, recorded, repeated, CONNECTIONS)
        line = describe(f"clinic claims, {args.server}", result, rss)
        print(line)
        record(
            "write path: clinic claims",
            [
                f"{asyncio.run(pg_version(url))}; {args.referrals:,} referrals in "
                f"{args.clinics} clinics; {min(STAFF, args.clinics)} coordinators × "
                f"{PER_STAFF} referrals; {WORKERS} workers; wrk -t1 -c{CONNECTIONS} "
                f"{args.seconds} s on the same {os.cpu_count()} cores",
                line,
                f"acknowledged (2xx) {done:,}, claims in the ledger {recorded:,}, "
                f"idempotency keys recorded twice {repeated}: "
                + (
                    "every acknowledged claim recorded once (the extras were in flight when "
                    "wrk stopped)"
                    if whole
                    else "MISMATCH"
                ),
                f"target ≥ 1,000 claims/s: {'met' if result['rps'] >= 1000 else 'missed'}",
            ],
        )


if __name__ == "__main__":
    main()

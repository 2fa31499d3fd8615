"""SIGKILLs of the server and of the outbox worker, and crashes of PostgreSQL itself
(`pg_ctl stop -m immediate`, then start: recovery from the WAL), at random moments while
signed webhooks and patient ratings pour in. Afterwards every acknowledged write is in
the ledger exactly once, nothing is half-written (a stored delivery without its outbox
message, a rating row that is not the last rating event), and the worker has turned
every stored delivery into exactly one event — messages a killed worker held are taken
over once its lease runs out, and recorded once.

    # make test: 4 SIGKILLs (server and worker in turn) and, on PostgreSQL, 2 crashes of it
    # by hand, the long profile (figures in docs/security.md):
    PLANTRACK_CRASH_KILLS=100 PLANTRACK_CRASH_POSTGRES_EVERY=5 \\
        .venv/bin/pytest --db=postgres -m db tests/service/test_crash_recovery.py -s

The server runs without its embedded worker; a `plantrack worker` process runs beside it
(lease 3 s), so each can be killed alone; at each crash of PostgreSQL the worker is
restarted too, so it starts with no database and must wait for it. On SQLite there is no
database server to crash, so the PostgreSQL crashes are left out.
"""

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from backend.settings import Settings
from backend.store.engine import close_engine, open_engine
from backend.store.tables import Outbox
from tests import pg_cluster
from tests.conftest import _fresh_postgres_database, _migrate, _settings
from tests.live_server import ServerProcess, WorkerProcess
from tests.service.write_load import WORKER_ENV, Tally, drained, read_ledger, set_scene, write_load

pytestmark = pytest.mark.db

KILLS = int(os.environ.get("PLANTRACK_CRASH_KILLS", "4"))
POSTGRES_EVERY = int(os.environ.get("PLANTRACK_CRASH_POSTGRES_EVERY", "2"))
SEED = int(os.environ.get("PLANTRACK_CRASH_SEED", "24"))


@pytest.fixture
async def crashable(db: Settings, tmp_path: Path) -> AsyncIterator[tuple[Settings, Path | None]]:
    """The database: on PostgreSQL a cluster of the test's own (it is crashed), which
    acknowledges a commit only once its WAL is written (the test clusters otherwise
    return before, and a crash loses what they acknowledged); on SQLite the usual file."""
    if db.is_sqlite:
        yield db, None
        return
    base = pg_cluster.temp_base()
    try:
        server_url = pg_cluster.start(base, extra_conf="synchronous_commit = on\n")
        settings = _settings(tmp_path, await _fresh_postgres_database(server_url, "plantrack"))
        await _migrate(settings)
        yield settings, base
    finally:
        pg_cluster.stop(base)


async def started_without_database(worker: WorkerProcess, within: float = 30) -> None:
    """Start the worker and wait until it is running (its start is logged), or fail if
    it exits meanwhile; the server answers 503 all that time."""
    before = worker.log.read_text().count("worker started") if worker.log.exists() else 0
    worker.start()
    deadline = time.monotonic() + within
    while worker.log.read_text().count("worker started") == before:
        assert worker.alive(), (
            f"the worker exited without a database: {worker.log.read_text()[-2000:]}"
        )
        assert time.monotonic() < deadline, "the worker did not start"
        await asyncio.sleep(0.1)


async def no_message_held(within: float = 30) -> int:
    """Wait until no outbox message is held by a worker (a killed one's leases end);
    returns how many still are."""
    deadline = time.monotonic() + within
    while True:
        held = await Outbox.count().where(Outbox.status == "in_flight")
        if held == 0 or time.monotonic() > deadline:
            return held
        await asyncio.sleep(0.3)


async def test_acknowledged_writes_survive_kills_and_crashes(crashable, tmp_path: Path) -> None:
    settings, cluster = crashable
    env = {**WORKER_ENV, "PLANTRACK_EMBEDDED_WORKER": "0"}
    server = ServerProcess(settings, tmp_path, **env)
    worker = WorkerProcess(server, tmp_path)
    server.start()
    worker.start()
    chance = random.Random(SEED)
    tally = Tally()
    done: Counter[str] = Counter()
    began = time.monotonic()
    engine = await open_engine(settings) if cluster is not None else None
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            scene = await set_scene(client)
            stop = asyncio.Event()
            load = asyncio.create_task(write_load(client, scene, tally, stop))
            for kill in range(KILLS):
                await asyncio.sleep(chance.uniform(0.3, 1.0))  # a different moment each time
                if kill % 2 == 0:
                    await asyncio.to_thread(server.kill)
                    await asyncio.sleep(0.1)  # writers meet the dead port
                    await asyncio.to_thread(server.start)
                    done["server"] += 1
                else:
                    await asyncio.to_thread(worker.kill)
                    worker.start()
                    done["worker"] += 1
                if cluster is not None and (kill + 1) % POSTGRES_EVERY == 0:
                    await asyncio.sleep(chance.uniform(0.2, 0.6))
                    await asyncio.to_thread(pg_cluster.crash, cluster)
                    # A worker that starts with no database must wait for it, not exit.
                    await asyncio.to_thread(worker.kill)
                    await started_without_database(worker)
                    await asyncio.to_thread(pg_cluster.resume, cluster)
                    done["postgres"] += 1
                if KILLS > 10 and (kill + 1) % 10 == 0:
                    print(f"  {kill + 1} kills, {dict(done)}, answers {dict(tally.statuses())}")
            await asyncio.sleep(1.0)  # a last stretch of load on the survivors
            stop.set()
            await load
            assert server.process is not None and server.process.poll() is None
            assert worker.alive(), f"the worker died: {worker.log.read_text()[-2000:]}"
            if engine is not None:  # the test's own pool lost its connections in the crashes
                await close_engine(engine)
                engine = await open_engine(settings)
            half = (await read_ledger(scene)).half_written
            ledger = await drained(scene, within=60)
            held = await no_message_held()
            taken_over = await Outbox.count().where(Outbox.attempts > 1)
    finally:
        worker.stop()
        server.stop()
        if engine is not None:
            await close_engine(engine)

    acked_webhooks, acked_ratings = tally.acked("webhooks"), tally.acked("ratings")
    statuses = tally.statuses()
    stored, events = sum(ledger.deliveries.values()), sum(ledger.webhook_events.values())
    print(
        f"\n{dict(done)} in {time.monotonic() - began:.0f} s (seed {SEED}): answers "
        f"{dict(statuses)} (0 = cut by a kill, 503 = PostgreSQL down); webhooks acknowledged "
        f"{len(acked_webhooks)}, stored {stored}, recorded as events {events}; ratings "
        f"acknowledged {len(acked_ratings)}, recorded {sum(ledger.rating_events.values())}; "
        f"outbox messages taken over from a killed worker or retried {taken_over}, each "
        f"delivery recorded once; held at the end {held}"
    )
    assert set(statuses) <= {0, 200, 202, 503}, statuses  # never a 500
    assert statuses[0] > 0, "no request was cut: the kills proved nothing"
    assert cluster is None or statuses[503] > 0, "PostgreSQL's crashes were not felt"
    assert not tally.bad_503, tally.bad_503[:3]
    assert acked_webhooks and acked_ratings
    assert {ledger.deliveries[m] for m in acked_webhooks} == {1}
    assert {ledger.webhook_events[m] for m in acked_webhooks} == {1}
    assert {ledger.rating_events[c] for c in acked_ratings} == {1}
    # Writes cut by a kill may have committed before the answer was lost; never twice.
    assert max(ledger.deliveries.values()) == 1 and max(ledger.rating_events.values()) == 1
    assert max(ledger.webhook_events.values()) == 1
    assert set(ledger.webhook_events) == set(ledger.deliveries)  # every delivery, once
    assert ledger.unfinished_inbox == 0 and ledger.open_outbox == 0 and held == 0
    assert not half and not ledger.half_written, half or ledger.half_written

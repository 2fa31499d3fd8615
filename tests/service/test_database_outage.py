"""PostgreSQL stops under load and comes back: the server answers 503 with Retry-After
meanwhile (never a 500), loses nothing it acknowledged, and recovers by itself.

The test runs its own throwaway cluster (it is stopped mid-test), the real server in a
subprocess with its embedded worker, and four writers posting signed MIS webhooks and
patient ratings throughout.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from backend.settings import Settings
from backend.store.engine import close_engine, open_engine
from tests import pg_cluster
from tests.conftest import _fresh_postgres_database, _migrate, _settings
from tests.live_server import ServerProcess
from tests.service.write_load import (
    WORKER_ENV,
    Tally,
    drained,
    set_scene,
    until_writes_answer_again,
    write_load,
)

pytestmark = pytest.mark.db

OUTAGE_S = 3.0


@pytest.fixture
async def own_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple]:
    if request.config.getoption("--db") != "postgres":
        pytest.skip("stops a PostgreSQL server: runs with --db=postgres")
    base = pg_cluster.temp_base()
    try:
        server_url = pg_cluster.start(base)
        url = await _fresh_postgres_database(server_url, "plantrack")
        settings = _settings(tmp_path, url)
        await _migrate(settings)
        yield base, settings
    finally:
        pg_cluster.stop(base)


async def test_postgres_outage_answers_503_loses_nothing_and_recovers(
    own_cluster: tuple[Path, Settings], tmp_path: Path
) -> None:
    base, settings = own_cluster
    engine = await open_engine(settings)
    server = ServerProcess(settings, tmp_path, **WORKER_ENV)
    server.start()
    tally = Tally()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            scene = await set_scene(client)
            await close_engine(engine)  # the test's own pool would only see the outage too

            stop = asyncio.Event()
            load = asyncio.create_task(write_load(client, scene, tally, stop))
            await asyncio.sleep(1.0)
            halted_at = time.monotonic()
            await asyncio.to_thread(pg_cluster.halt, base)
            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(pg_cluster.resume, base)
            resumed_at = time.monotonic()
            await until_writes_answer_again(tally, resumed_at, 15)
            stop.set()
            await load
        assert server.process is not None and server.process.poll() is None, "server died"

        engine = await open_engine(settings)
        ledger = await drained(scene)
    finally:
        server.stop()
        await close_engine(engine)

    statuses = tally.statuses()
    during = [s for t, s in tally.answered_at if halted_at <= t <= resumed_at]
    after = [t for t, s in tally.answered_at if t > resumed_at and s < 300]
    worker_down = [e.get("down_s") for e in server.log_lines("database back; worker resumes")]
    first_503 = min((t for t, s in tally.answered_at if s == 503), default=None)
    print(
        f"\noutage {OUTAGE_S:.0f} s: answers {dict(statuses)}; during the outage "
        f"{len(during)} answers; first 2xx {after[0] - resumed_at:.2f} s after PostgreSQL "
        f"was back"
        + (f"; first 503 {first_503 - halted_at:.2f} s after the stop" if first_503 else "")
        + f"; the worker saw the database down for {worker_down} s"
    )
    assert set(statuses) <= {200, 202, 503}, statuses  # no 500, and every request answered
    assert statuses[503] > 0, "the outage was not felt: the test proves nothing"
    assert not tally.bad_503, tally.bad_503[:3]
    assert after, "no write acknowledged after PostgreSQL came back"

    acked_webhooks, acked_ratings = tally.acked("webhooks"), tally.acked("ratings")
    assert acked_webhooks and acked_ratings
    assert {ledger.deliveries[m] for m in acked_webhooks} == {1}
    assert {ledger.webhook_events[m] for m in acked_webhooks} == {1}  # the worker resumed
    assert {ledger.rating_events[c] for c in acked_ratings} == {1}
    assert max(ledger.deliveries.values()) == 1 and max(ledger.rating_events.values()) == 1
    assert ledger.unfinished_inbox == 0 and ledger.open_outbox == 0
    assert not ledger.half_written, ledger.half_written
    assert server.log_lines("database unavailable; worker waits"), "the worker never noticed"

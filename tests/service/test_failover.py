"""The primary dies and the standby takes over: the app and its worker carry on without
a restart, answering 503 with Retry-After while there is no primary, and nothing they
acknowledged is lost or recorded twice.

A primary and a synchronous standby (a commit is acknowledged once the standby has it)
on loopback; the server's database URL names both, libpq-style, with
`target_session_attrs=read-write`, so every new connection finds whichever is the
primary. Under four writers (signed MIS webhooks and patient ratings) and a patient
reading their plan screen, the primary is killed (`pg_ctl stop -m immediate`); after
FAILOVER_S — the time a failover manager such as Patroni takes to decide — the standby is
promoted. Then every acknowledged write must be on it exactly once, and the worker must
have turned every stored webhook into its event (the outbox delivered what was pending).
"""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from backend.settings import Settings
from backend.store.engine import close_engine, open_engine
from tests import pg_cluster
from tests.conftest import _fresh_postgres_database, _migrate, _settings
from tests.live_server import ServerProcess
from tests.service.write_load import (
    WORKER_ENV,
    Scene,
    Tally,
    drained,
    set_scene,
    until_writes_answer_again,
    write_load,
)

pytestmark = pytest.mark.db

FAILOVER_S = 2.0


def port_of(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/", 1)[0]


async def synchronous(primary_url: str) -> None:
    """Make the standby synchronous and wait until the primary says it is."""
    conn = await asyncpg.connect(primary_url)
    try:
        await conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        await conn.execute("SELECT pg_reload_conf()")
        for _ in range(100):
            states = [r["sync_state"] for r in await conn.fetch("TABLE pg_stat_replication")]
            if states == ["sync"]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the standby did not become synchronous: {states}")
    finally:
        await conn.close()


@pytest.fixture
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Path, Path, Settings]]:
    if request.config.getoption("--db") != "postgres":
        pytest.skip("kills a PostgreSQL primary: runs with --db=postgres")
    primary_base, standby_base = pg_cluster.temp_base(), pg_cluster.temp_base()
    try:
        # The test clusters trade durability for speed; this one must acknowledge a
        # commit only once the standby has it.
        primary = pg_cluster.start(primary_base, extra_conf="synchronous_commit = on\n")
        await _fresh_postgres_database(primary, "plantrack")
        standby = pg_cluster.start_replica(primary, standby_base)
        await synchronous(primary)
        both = (
            f"postgresql://{pg_cluster.USER}@127.0.0.1:{port_of(primary)},"
            f"127.0.0.1:{port_of(standby)}/plantrack?target_session_attrs=read-write"
        )
        settings = _settings(tmp_path, both)
        await _migrate(settings)
        yield primary_base, standby_base, settings
    finally:
        pg_cluster.stop(standby_base)
        pg_cluster.stop(primary_base)


async def read_plan_screens(
    client: httpx.AsyncClient, scene: Scene, seen: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    """The patient opening their plan screen, again and again."""
    path = f"/api/v1/me/referrals/{scene.referral_ids[0]}"
    while not stop.is_set():
        try:
            answer = await client.get(path, headers=scene.patient_headers)
            seen.append((time.monotonic(), answer.status_code))
            if answer.status_code == 503:
                assert answer.headers.get("retry-after") == "5", answer.headers
        except httpx.TransportError:
            seen.append((time.monotonic(), 0))
            await asyncio.sleep(0.05)


async def test_the_standby_takes_over_and_nothing_acknowledged_is_lost(pair, tmp_path):
    primary_base, standby_base, settings = pair
    engine = await open_engine(settings)
    server = ServerProcess(settings, tmp_path, **WORKER_ENV)
    server.start()
    tally, reads = Tally(), []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            scene = await set_scene(client)
            await close_engine(engine)

            stop = asyncio.Event()
            load = asyncio.gather(
                write_load(client, scene, tally, stop),
                read_plan_screens(client, scene, reads, stop),
            )
            await asyncio.sleep(1.5)
            await asyncio.to_thread(pg_cluster.crash, primary_base)
            killed_at = time.monotonic()  # pg_ctl has waited until the server is gone
            await asyncio.sleep(FAILOVER_S)
            promote_started = time.monotonic()
            await asyncio.to_thread(pg_cluster.promote, standby_base)
            promoted_at = time.monotonic()
            await until_writes_answer_again(tally, promoted_at, 20)
            stop.set()
            await load
        assert server.process is not None and server.process.poll() is None, "server died"

        engine = await open_engine(settings)  # the same URL: it finds the new primary
        ledger = await drained(scene)
    finally:
        server.stop()
        await close_engine(engine)

    statuses = tally.statuses()
    read_statuses = Counter(s for _, s in reads)
    # An answer may still arrive for a write committed just before the kill: the quiet
    # time starts a little after it.
    quiet_from = killed_at + 0.3
    first_2xx = min((t for t, s in tally.answered_at if t > quiet_from and s < 300), default=None)
    first_read = min((t for t, s in reads if t > quiet_from and s == 200), default=None)
    worker_down = [e.get("down_s") for e in server.log_lines("database back; worker resumes")]
    print(
        f"\nprimary killed, standby promoted {FAILOVER_S:.0f} s later (promotion took "
        f"{promoted_at - promote_started:.2f} s): writes {dict(statuses)}, plan screens "
        f"{dict(read_statuses)}; first acknowledged write {first_2xx - killed_at:.2f} s "
        f"after the kill ({first_2xx - promoted_at:.2f} s after the promotion), first plan "
        f"screen {first_read - killed_at:.2f} s after the kill; the worker saw no primary "
        f"for {worker_down} s; {len(tally.acked('webhooks'))} webhooks and "
        f"{len(tally.acked('ratings'))} ratings acknowledged"
        if first_2xx and first_read
        else f"\nno recovery: writes {dict(statuses)}, reads {dict(read_statuses)}"
    )
    assert set(statuses) <= {200, 202, 503}, statuses  # no 500, every request answered
    assert set(read_statuses) <= {200, 503}, read_statuses
    assert statuses[503] > 0 and read_statuses[503] > 0, "no outage felt: proves nothing"
    assert not tally.bad_503, tally.bad_503[:3]
    # Nothing is acknowledged while there is no primary, and writes come back after.
    assert first_2xx is not None and first_2xx > promote_started
    assert first_read is not None and first_read > promote_started

    acked_webhooks, acked_ratings = tally.acked("webhooks"), tally.acked("ratings")
    assert acked_webhooks and acked_ratings
    assert {ledger.deliveries[m] for m in acked_webhooks} == {1}  # each on the new primary
    assert {ledger.webhook_events[m] for m in acked_webhooks} == {1}  # the outbox delivered
    assert {ledger.rating_events[c] for c in acked_ratings} == {1}
    assert max(ledger.deliveries.values()) == 1 and max(ledger.rating_events.values()) == 1
    assert ledger.unfinished_inbox == 0 and ledger.open_outbox == 0
    assert not ledger.half_written, ledger.half_written
    assert worker_down, "the worker never noticed the primary was gone"

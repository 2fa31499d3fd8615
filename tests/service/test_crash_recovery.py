"""The server killed with SIGKILL while webhooks and patient ratings pour in, three times:
after each restart every acknowledged write is in the ledger exactly once, and nothing
is half-written (a stored delivery without its outbox message, a rating row that is not
the last rating event). The worker inside the server finishes what the dead one held.
"""

import asyncio
from pathlib import Path

import httpx

from backend.settings import Settings
from tests.live_server import ServerProcess
from tests.service.write_load import (
    WORKER_ENV,
    Tally,
    drained,
    read_ledger,
    set_scene,
    write_load,
)

KILLS = 3


async def test_acknowledged_writes_survive_sigkill(db: Settings, tmp_path: Path) -> None:
    server = ServerProcess(db, tmp_path, **WORKER_ENV)
    server.start()
    tally = Tally()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            scene = await set_scene(client)
            for kill in range(KILLS):
                stop = asyncio.Event()
                load = asyncio.create_task(write_load(client, scene, tally, stop))
                await asyncio.sleep(1.0 + 0.4 * kill)  # a different moment each time
                await asyncio.to_thread(server.kill)
                await asyncio.sleep(0.2)  # writers meet the dead port
                stop.set()
                await load
                ledger = await read_ledger(scene)
                acked = len(tally.acked("webhooks")) + len(tally.acked("ratings"))
                found = sum(ledger.deliveries.values()) + sum(ledger.rating_events.values())
                print(f"\nkill {kill + 1}: acknowledged {acked}, in the ledger {found}")
                assert not ledger.half_written, ledger.half_written
                await asyncio.to_thread(server.start)
            ledger = await drained(scene)
    finally:
        server.stop()

    acked_webhooks, acked_ratings = tally.acked("webhooks"), tally.acked("ratings")
    print(
        f"after {KILLS} kills: answers {dict(tally.statuses())} (0 = cut by the kill); "
        f"webhooks acknowledged {len(acked_webhooks)}, stored {sum(ledger.deliveries.values())}, "
        f"recorded as events {sum(ledger.webhook_events.values())}; ratings acknowledged "
        f"{len(acked_ratings)}, recorded {sum(ledger.rating_events.values())}"
    )
    assert set(tally.statuses()) <= {0, 200, 202}, tally.statuses()
    assert tally.statuses()[0] > 0, "no request was cut: the kills proved nothing"
    assert acked_webhooks and acked_ratings
    assert {ledger.deliveries[m] for m in acked_webhooks} == {1}
    assert {ledger.webhook_events[m] for m in acked_webhooks} == {1}
    assert {ledger.rating_events[c] for c in acked_ratings} == {1}
    # Writes cut by a kill may have committed before the answer was lost; never twice.
    assert max(ledger.deliveries.values()) == 1 and max(ledger.rating_events.values()) == 1
    assert max(ledger.webhook_events.values()) == 1
    assert set(ledger.webhook_events) <= set(ledger.deliveries)
    assert ledger.unfinished_inbox == 0 and ledger.open_outbox == 0
    assert not ledger.half_written, ledger.half_written

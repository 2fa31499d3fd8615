"""Shutdown waits for the answers still being written (the pool closes after them)."""

import asyncio

from backend.http_context import InFlight


async def test_drained_waits_for_the_last_request() -> None:
    in_flight = InFlight()
    in_flight.enter()
    in_flight.enter()
    waiting = asyncio.create_task(in_flight.drained(5))
    await asyncio.sleep(0.01)
    in_flight.leave()
    await asyncio.sleep(0.01)
    assert not waiting.done()  # one request is still being served
    in_flight.leave()
    assert await waiting is True
    assert in_flight.count == 0


async def test_drained_gives_up_after_its_grace() -> None:
    in_flight = InFlight()
    in_flight.enter()
    assert await in_flight.drained(0.05) is False
    assert in_flight.count == 1


async def test_idle_process_drains_at_once() -> None:
    assert await InFlight().drained(0) is True

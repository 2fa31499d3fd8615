"""Shutdown waits for the answers still being written (the pool closes after them)."""

import asyncio

from backend.web.request_context import InFlight, RequestContext


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


async def test_the_outermost_layer_counts_each_request_until_it_is_answered() -> None:
    release = asyncio.Event()

    async def app(scope, receive, send) -> None:
        await release.wait()
        if scope["path"] == "/boom":
            raise RuntimeError("a handler failed")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        pass

    in_flight = InFlight()
    layer = RequestContext(app, in_flight)
    scopes = [{"type": "http", "method": "GET", "headers": [], "path": p} for p in ("/", "/boom")]
    tasks = [asyncio.create_task(layer(scope, receive, send)) for scope in scopes]
    await asyncio.sleep(0.01)
    assert in_flight.count == 2
    drained = asyncio.create_task(in_flight.drained(5))
    await asyncio.sleep(0.01)
    assert not drained.done()
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], RuntimeError)  # a failed request is no longer in flight
    assert await drained is True
    assert in_flight.count == 0

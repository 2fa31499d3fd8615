"""Calling a vendor's API politely: one rate limiter per account, a deadline on every
call, network trouble turned into CrmUnavailable (try later), never into a crash or a
stall of the worker.

A vendor that accepts the connection and never answers costs one timeout, not one per
message: after a call to a host runs out of time, calls to that host fail at once
(CrmUnavailable, so the outbox retries them later with backoff) for as long as one call
would have waited, and the worker's batch moves on to other vendors' messages.
"""

import asyncio
import time
import weakref
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from backend.integrations.base import CrmUnavailable

TIMEOUT_S = 15.0  # the whole call; the worker's is PLANTRACK_VENDOR_TIMEOUT_SECONDS
CONNECT_S = 5.0

# aiolimiter binds a limiter to the loop that first uses it: one set per loop.
_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncLimiter]]" = (
    weakref.WeakKeyDictionary()
)
_spacings: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Spacing]]" = (
    weakref.WeakKeyDictionary()
)
# host:port → monotonic time until which it is not called (it hung last time).
_silent_until: dict[str, float] = {}


def client(timeout: float = TIMEOUT_S) -> httpx.AsyncClient:
    """An HTTP client for vendors' APIs, whose timeout every call's deadline follows."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(CONNECT_S, timeout)), follow_redirects=False
    )


def limiter(account: str, max_rate: float, period: float) -> AsyncLimiter:
    """The shared limiter for one vendor account (every adapter call to it waits here)."""
    per_loop = _limiters.setdefault(asyncio.get_running_loop(), {})
    if account not in per_loop:
        per_loop[account] = AsyncLimiter(max_rate, period)
    return per_loop[account]


class Spacing:
    """One call at a time to an account, each leaving `gap` seconds after the answer to
    the previous one came back. A vendor counts requests as they arrive: spacing when they
    leave is not enough, since one held up on its way (a busy CPU, the network) lands
    just before the next, and a run of such lands more in a second than allowed. Spaced
    from the answer, arrivals are at least `gap` apart whatever the delays: the next
    request leaves only after the previous one has arrived and been answered."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self._turn = asyncio.Lock()
        self._free_at = 0.0

    async def __aenter__(self) -> None:
        await self._turn.acquire()
        try:
            await asyncio.sleep(max(0.0, self._free_at - time.monotonic()))
        except BaseException:
            self._turn.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._free_at = time.monotonic() + self.gap
        self._turn.release()


def spacing(account: str, gap: float) -> Spacing:
    """The shared Spacing for one vendor account (every adapter call to it waits here)."""
    per_loop = _spacings.setdefault(asyncio.get_running_loop(), {})
    if account not in per_loop:
        per_loop[account] = Spacing(gap)
    return per_loop[account]


async def send(
    http: httpx.AsyncClient,
    gate: AbstractAsyncContextManager[Any],
    method: str,
    url: str,
    **kwargs: Any,
) -> httpx.Response:
    target = httpx.URL(url)
    where = f"{target.host}:{target.port or ''}"
    deadline = http.timeout.read or TIMEOUT_S
    if time.monotonic() < _silent_until.get(where, 0.0):
        raise CrmUnavailable(f"{target.host} did not answer the last call; not called again yet")
    async with gate:
        # A call queued behind one that has just run out of time does not try again.
        if time.monotonic() < _silent_until.get(where, 0.0):
            raise CrmUnavailable(f"{target.host} did not answer the last call; not called again")
        try:
            # httpx's timeouts are per read; a server that trickles bytes would never
            # trip one, so the whole call has a deadline too.
            async with asyncio.timeout(deadline):
                return await http.request(method, url, **kwargs)
        except (TimeoutError, httpx.TimeoutException) as exc:
            _silent_until[where] = time.monotonic() + deadline
            raise CrmUnavailable(f"{target.host} did not answer within {deadline:g} s") from exc
        except httpx.TransportError as exc:
            raise CrmUnavailable(f"{type(exc).__name__} calling {target.host}") from exc


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else default

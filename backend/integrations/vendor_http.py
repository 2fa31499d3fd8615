"""Calling a vendor's API politely: one rate limiter per account, network trouble
turned into CrmUnavailable (try later), never into a crash of the worker."""

import asyncio
import weakref
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from backend.integrations.base import CrmUnavailable

TIMEOUT = httpx.Timeout(15.0, connect=5.0)

# aiolimiter binds a limiter to the loop that first uses it: one set per loop.
_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncLimiter]]" = (
    weakref.WeakKeyDictionary()
)


def limiter(account: str, max_rate: float, period: float) -> AsyncLimiter:
    """The shared limiter for one vendor account (every adapter call to it waits here)."""
    per_loop = _limiters.setdefault(asyncio.get_running_loop(), {})
    if account not in per_loop:
        per_loop[account] = AsyncLimiter(max_rate, period)
    return per_loop[account]


async def send(
    http: httpx.AsyncClient, gate: AsyncLimiter, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    async with gate:
        try:
            return await http.request(method, url, timeout=TIMEOUT, **kwargs)
        except httpx.TransportError as exc:
            raise CrmUnavailable(f"{type(exc).__name__} calling {httpx.URL(url).host}") from exc


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else default

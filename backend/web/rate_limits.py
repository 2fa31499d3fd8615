"""Requests per window per client, by route group: sign-in per client address, the
patient API per patient, staff routes per staff user, deliveries per integration.
Counted in the database, so every server process draws on one budget; over it, 429
with Retry-After.

The large budgets (the patient API, staff routes, deliveries: abuse of reads and
volume) are counted in the process and settled with the database in batches of a
twentieth of the budget, so most requests cost no write. Each process enforces what it
knows exactly (the shared count at its last settling plus its own requests since); the
tolerance is what the other processes have not settled yet: with P processes at most
P × (budget/20 − 1) requests a window beyond the budget (two processes, a budget of 300:
28). Sign-in and the patient's links (small budgets guarding secrets) are settled on
every request, exactly."""

import hashlib
import math
from datetime import datetime, timedelta
from typing import Literal

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from backend.runtime.clock import utcnow
from backend.services.errors import TooManyAttempts
from backend.settings import Settings
from backend.store import rate_limits
from backend.store.throttle import Count

Group = Literal["auth", "patient", "staff", "webhooks", "links"]


# Groups counted in the process and settled in batches (see the module's note).
BATCHED: frozenset[str] = frozenset({"patient", "staff", "webhooks"})
BATCH_SHARE = 20  # a batch is this share of the budget


class _Local:
    """One client's count in this process: the shared count at the last settling, the
    requests since, and the window the database holds."""

    __slots__ = ("pending", "shared", "window_start")

    def __init__(self, count: Count) -> None:
        self.shared, self.window_start, self.pending = count.count, count.window_start, 0


# By database and client: a process serves one database, its tests many.
_local: dict[tuple[str, str], _Local] = {}


async def _count(database: str, key: str, budget: int, window: timedelta, now: datetime) -> Count:
    """The client's count with this request, settled with the database when this
    process holds a batch of unsettled requests (or the window it knew has ended)."""
    local = _local.get((database, key))
    if local is None or now >= local.window_start + window:
        # First sight here, or a new window: settle at once to learn the shared count
        # (what was pending belonged to the ended window).
        used = await rate_limits.hit(key, window=window, now=now)
        _local[database, key] = _Local(used)
        return used
    local.pending += 1
    if local.pending >= max(1, budget // BATCH_SHARE):
        used = await rate_limits.hit(key, window=window, now=now, n=local.pending)
        _local[database, key] = _Local(used)
        return used
    return Count(count=local.shared + local.pending, window_start=local.window_start)


class _Pruning:
    """When this process next deletes ended windows: at most once a window, so the
    table stays as small as the number of recent clients, at the price of one cheap
    DELETE per process per window."""

    next_at: datetime | None = None


async def charge(settings: Settings, group: Group, subject: str) -> None:
    """Count one request of `subject` against its group's budget; raise when over it."""
    budget: int = getattr(settings, f"rate_limit_{group}")
    if budget <= 0:
        return
    window = timedelta(seconds=settings.rate_limit_window_seconds)
    now = utcnow()
    key = f"{group}:{subject}"
    if group in BATCHED:
        used = await _count(settings.database_url, key, budget, window, now)
    else:
        used = await rate_limits.hit(key, window=window, now=now)
    if _Pruning.next_at is None or now >= _Pruning.next_at:
        _Pruning.next_at = now + window
        await rate_limits.prune(ended_before=now - window)
        for ended in [k for k, v in _local.items() if now >= v.window_start + window]:
            del _local[ended]
    if used.count > budget:
        wait = max(1, math.ceil((used.window_start + window - now).total_seconds()))
        raise TooManyAttempts(
            f"more than {budget} requests in {settings.rate_limit_window_seconds} s; "
            f"try again in {wait} s",
            retry_after=wait,
        )


def client_address(connection: ASGIConnection) -> str:
    # Behind a proxy, `plantrack serve --proxy-headers` makes this the caller's address.
    return connection.client.host if connection.client else "unknown"


async def auth_budget(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard for the sign-in routes: per client address, before any password is checked."""
    await charge(connection.app.state.settings, "auth", client_address(connection))


async def delivery_budget(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard for clinic systems' deliveries: per integration, named by the inbound token
    in the path (hashed: the counter table holds no credentials). Runs before the
    delivery is stored."""
    token = str(connection.path_params.get("token", ""))
    subject = hashlib.sha256(token.encode()).hexdigest()[:32]
    await charge(connection.app.state.settings, "webhooks", subject)


async def link_budget(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Guard for the patient's web pages (patient_web/): per client address, whatever
    the link; a link that does not exist costs the address's sign-in budget as well."""
    await charge(connection.app.state.settings, "links", client_address(connection))

"""Requests per window per client, by route group: sign-in per client address, the
patient API per patient, staff routes per staff user, deliveries per integration.
Counted in the database, so every server process draws on one budget; over it, 429
with Retry-After."""

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

Group = Literal["auth", "patient", "staff", "webhooks", "links"]


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
    used = await rate_limits.hit(f"{group}:{subject}", window=window, now=now)
    if _Pruning.next_at is None or now >= _Pruning.next_at:
        _Pruning.next_at = now + window
        await rate_limits.prune(ended_before=now - window)
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

"""Request counters in fixed windows, in the database so that every server process
counts against the same budget. One row per client and route group; a window starts
with its first request and a new one replaces it when it ends."""

from datetime import datetime, timedelta

from backend.store.tables import RateLimit
from backend.store.throttle import Count


async def hit(key: str, *, window: timedelta, now: datetime, n: int = 1) -> Count:
    """Count `n` requests; one statement, so concurrent processes never lose a count."""
    rows = await RateLimit.raw(
        """
        INSERT INTO "rate_limit" ("key", "window_start", "hits") VALUES ({}, {}, {})
        ON CONFLICT ("key") DO UPDATE SET
            "hits" = CASE WHEN "rate_limit"."window_start" <= {} THEN {}
                          ELSE "rate_limit"."hits" + {} END,
            "window_start" = CASE WHEN "rate_limit"."window_start" <= {} THEN {}
                                  ELSE "rate_limit"."window_start" END
        RETURNING "hits", "window_start"
        """,
        key,
        now,
        n,
        now - window,
        n,
        n,
        now - window,
        now,
    )
    return Count(count=rows[0]["hits"], window_start=rows[0]["window_start"])


async def prune(*, ended_before: datetime) -> None:
    """Forget clients whose last window has ended (an index on window_start keeps it cheap)."""
    await RateLimit.delete().where(RateLimit.window_start <= ended_before)

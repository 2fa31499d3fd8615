"""Counters of failed attempts in fixed windows, in the database so that every worker
process sees the same count. A window ends by itself: a lockout never lasts longer
than its window, so an attacker cannot lock a victim out for good."""

from datetime import datetime, timedelta

import msgspec

from backend.store.tables import Throttle


class Count(msgspec.Struct, frozen=True):
    count: int
    window_start: datetime


async def current(key: str, *, window: timedelta, now: datetime) -> int:
    row = (
        await Throttle.select(Throttle.count, Throttle.window_start)
        .where(Throttle.key == key)
        .first()
    )
    if row is None or row["window_start"] <= now - window:
        return 0
    return row["count"]


async def hit(key: str, *, window: timedelta, now: datetime) -> Count:
    """Count one more failure in the current window (a new window if the last ended)."""
    rows = await Throttle.raw(
        """
        INSERT INTO "throttle" ("key", "window_start", "count") VALUES ({}, {}, 1)
        ON CONFLICT ("key") DO UPDATE SET
            "count" = CASE WHEN "throttle"."window_start" <= {} THEN 1
                           ELSE "throttle"."count" + 1 END,
            "window_start" = CASE WHEN "throttle"."window_start" <= {} THEN {}
                                  ELSE "throttle"."window_start" END
        RETURNING "count", "window_start"
        """,
        key,
        now,
        now - window,
        now - window,
        now,
    )
    return Count(count=rows[0]["count"], window_start=rows[0]["window_start"])


async def clear(key: str) -> None:
    await Throttle.delete().where(Throttle.key == key)

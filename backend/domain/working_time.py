"""Working time and quiet hours: clocks that know a clinic's day and a patient's night.

A clinic's first-contact SLA is counted in its working hours (by default 09:00–20:00,
Monday to Saturday, in the clinic's own time zone; each clinic may set its own, and
its holidays), so a referral sent on Saturday evening is due on Monday morning, not at
22:00 on Saturday, and one sent before a holiday is due the working day after it.
"""

from datetime import date, datetime, time, timedelta, tzinfo

import msgspec


class WorkingHours(msgspec.Struct, frozen=True, kw_only=True):
    opens: time = time(9, 0)
    closes: time = time(20, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4, 5})  # Monday = 0
    holidays: frozenset[date] = frozenset()  # local days off although a weekday


DEFAULT_HOURS = WorkingHours()


def add_working_time(
    start: datetime, duration: timedelta, tz: tzinfo, hours: WorkingHours = DEFAULT_HOURS
) -> datetime:
    """The moment `duration` of working time after `start` has passed."""
    at = start.astimezone(tz)
    left = duration
    # A year and a half of days at most: holidays are capped (clinic_settings), so only
    # a clinic with no working days at all runs out.
    for _ in range(550):
        day_open = at.replace(
            hour=hours.opens.hour, minute=hours.opens.minute, second=0, microsecond=0
        )
        day_close = at.replace(
            hour=hours.closes.hour, minute=hours.closes.minute, second=0, microsecond=0
        )
        working_day = at.weekday() in hours.weekdays and at.date() not in hours.holidays
        if working_day and at < day_close:
            begin = max(at, day_open)
            available = day_close - begin
            if left <= available:
                return (begin + left).astimezone(start.tzinfo)
            left -= available
        next_day = (at + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        at = next_day.astimezone(tz)
    raise ValueError("no working hours configured")


def quiet_until(at: datetime, tz: tzinfo, start: time, end: time) -> datetime | None:
    """If `at` falls in quiet hours (start..end, possibly across midnight) in `tz`,
    the moment they end; else None."""
    local = at.astimezone(tz)
    now_t = local.time()
    if start == end:
        return None
    if start < end:
        quiet = start <= now_t < end
        end_day = local
    else:  # across midnight, e.g. 21:00–09:00
        quiet = now_t >= start or now_t < end
        end_day = local + timedelta(days=1) if now_t >= start else local
    if not quiet:
        return None
    ends = end_day.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    return ends.astimezone(at.tzinfo)

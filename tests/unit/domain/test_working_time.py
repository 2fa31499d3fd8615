"""Working time and quiet hours: the clock arithmetic of SLAs and reminders."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.domain.working_time import add_working_time, quiet_until

MSK = ZoneInfo("Europe/Moscow")


def msk(*args) -> datetime:
    return datetime(*args, tzinfo=MSK)


def test_working_time_skips_evenings_and_sundays():
    # Monday 10:00 + 2 working hours = Monday 12:00.
    assert add_working_time(msk(2026, 11, 2, 10), timedelta(hours=2), MSK) == msk(2026, 11, 2, 12)
    # Monday 19:00 + 2 h = 1 h on Monday, 1 h on Tuesday from 09:00.
    assert add_working_time(msk(2026, 11, 2, 19), timedelta(hours=2), MSK) == msk(2026, 11, 3, 10)
    # Saturday 19:30 + 2 h = Monday 10:30 (Sunday is off).
    assert add_working_time(msk(2026, 11, 7, 19, 30), timedelta(hours=2), MSK) == msk(
        2026, 11, 9, 10, 30
    )
    # Sent at night: the clock starts at opening time.
    assert add_working_time(msk(2026, 11, 3, 2), timedelta(minutes=30), MSK) == msk(
        2026, 11, 3, 9, 30
    )


def test_quiet_hours_across_midnight_in_the_patients_zone():
    start, end = time(21), time(9)
    assert quiet_until(msk(2026, 11, 2, 22), MSK, start, end) == msk(2026, 11, 3, 9)
    assert quiet_until(msk(2026, 11, 3, 7), MSK, start, end) == msk(2026, 11, 3, 9)
    assert quiet_until(msk(2026, 11, 3, 12), MSK, start, end) is None
    # The same instant is daytime in Novosibirsk (+4 h from Moscow): 01:00 Moscow = 05:00 there.
    nsk = ZoneInfo("Asia/Novosibirsk")
    assert quiet_until(msk(2026, 11, 3, 1), nsk, start, end) == datetime(2026, 11, 3, 9, tzinfo=nsk)

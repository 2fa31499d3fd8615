"""When the clinic called, as the patient says: "today", "yesterday", "earlier" or a time.

The moment a patient taps "yes, they called" is not when the call happened (a patient
may answer a day later), so the contact question and the rating also ask "when did
they call?". The words are turned into the span of time they mean, in the patient's
own zone, when the answer is recorded (the ledger keeps both), and the first-contact
time the patient reports is the middle of that span, kept between the sending and the
answer — the best single guess the words allow.
"""

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

CalledOn = Literal["today", "yesterday", "earlier", "at"]
CALLED_ON_CHOICES: tuple[CalledOn, ...] = ("today", "yesterday", "earlier")


class BadCallTime(ValueError):
    pass


def call_window(
    called_on: CalledOn | None, called_at: datetime | None, said_at: datetime, tz: tzinfo
) -> tuple[CalledOn | None, datetime | None, datetime | None]:
    """(what was said, called after, called before) for the patient's words at `said_at`.
    None bounds mean "no bound"; nothing said gives (None, None, None)."""
    if called_on is not None and called_at is not None:
        raise BadCallTime("give called_on or called_at, not both")
    if called_at is not None:
        if called_at.tzinfo is None:
            raise BadCallTime("called_at needs a time zone offset")
        if called_at > said_at:
            raise BadCallTime("called_at is in the future")
        return "at", called_at, called_at
    if called_on is None:
        return None, None, None
    today = datetime.combine(said_at.astimezone(tz).date(), time(0), tzinfo=tz)
    yesterday = datetime.combine(today.date() - timedelta(days=1), time(0), tzinfo=tz)
    if called_on == "today":
        return called_on, today, said_at
    if called_on == "yesterday":
        return called_on, yesterday, today
    if called_on == "earlier":
        return called_on, None, yesterday
    raise BadCallTime(f"called_on: {called_on} is not one of today, yesterday, earlier")


def call_window_on(day: date, said_at: datetime, tz: tzinfo) -> tuple[CalledOn, datetime, datetime]:
    """The span a calendar day means (the web page's date field): today and yesterday in
    the patient's words, as the app's buttons say them; an earlier day is "earlier",
    narrowed to that day. A day after today (in the patient's zone) is refused."""
    today = said_at.astimezone(tz).date()
    if day > today:
        raise BadCallTime("the day of the call is in the future")
    if day == today:
        return call_window("today", None, said_at, tz)  # type: ignore[return-value]
    if day == today - timedelta(days=1):
        return call_window("yesterday", None, said_at, tz)  # type: ignore[return-value]
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return "earlier", start, end


def reported_call_time(
    after: datetime | None, before: datetime | None, *, sent_at: datetime, said_at: datetime
) -> datetime:
    """The single moment a span of the patient's words stands for: its middle, with both
    ends kept between the sending (nobody calls about a referral before it exists) and
    the answer (a call cannot come after the patient reported it)."""

    def clamp(at: datetime) -> datetime:
        return min(max(at, sent_at), said_at)

    lo = clamp(after or sent_at)
    hi = clamp(before or said_at)
    lo, hi = min(lo, hi), max(lo, hi)
    return lo + (hi - lo) / 2

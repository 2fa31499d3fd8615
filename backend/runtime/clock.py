"""The one place that reads the wall clock, so that services take `now` explicitly."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)

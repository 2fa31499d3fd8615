"""Structured logs: one JSON object per line, with the request id, never a body.

Log records carry only what the caller passes in `extra={"fields": {...}}`; the
request middleware logs method, route template, status and duration, so neither
bodies nor query strings (which may hold phone numbers) reach the log.
"""

import contextvars
import logging
import sys
from datetime import UTC, datetime

import msgspec

# Libraries that log what passes through them: the SQL drivers their statements' parameters
# (phone numbers, names, notes), httpx and httpcore the URLs with their query strings, hpack
# and h2 the headers (tokens). Held at WARNING whatever the level, so DEBUG never shows them.
QUIET_LOGGERS = ("aiosqlite", "asyncpg", "httpx", "httpcore", "hpack", "h2", "urllib3")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

_encode = msgspec.json.Encoder().encode


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if rid := request_id.get():
            entry["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return _encode(entry).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn's own access log would print query strings; ours does not.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True

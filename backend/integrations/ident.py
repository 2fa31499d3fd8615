"""IDENT (Dent-IT): the clinic's desktop program pulls referrals as tickets.

IDENT starts every request itself: `GET {base}/GetTickets?dateTimeFrom=…&dateTimeTo=…
&limit=…&offset=…` with the `IDENT-Integration-Key` header, and answers a JSON array
of tickets (`Id`, `DateAndTime` and `ClientPhone` required). A wrong key gets 401 with
a plain-text reason, which IDENT writes to its exchange log. A ticket lands in IDENT's
CRM history for staff to confirm and book by hand; IDENT drops tickets it has already
seen by `Id`, so the referral id is the ticket id, stable forever. IDENT also posts its
timetable (`POST {base}/PostTimeTable`); plantrack takes it and keeps nothing.

As an `Adapter`, IDENT authenticates its requests by the integration key plantrack made
for it; it delivers nothing to the inbox (it pulls) and is no CRM.
"""

import hmac
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, get_currency_precision

from backend.domain.events import Source
from backend.integrations.base import Adapter, Connection

DEFAULT_LIMIT = 500  # what IDENT asks for in every known installation
MAX_LIMIT = 1000
FORM_NAME = "Направление plantrack"
KEY_HEADER = "ident-integration-key"


class BadQuery(ValueError):
    pass


def new_key() -> str:
    return secrets.token_urlsafe(24)


def key_matches(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode(), expected.encode())


class Ident(Adapter):
    system = "ident"
    source = Source.ident
    path = "ident"
    generated: ClassVar[Mapping[str, Callable[[], str]]] = {"integration_key": new_key}

    def authenticate(self, conn: Connection, headers: dict[str, str], body: bytes) -> bool:
        return key_matches(headers.get(KEY_HEADER), conn.secrets.get("integration_key", ""))


def _when(value: str | None, name: str) -> datetime | None:
    """IDENT sends ISO 8601 with an offset (`2025-01-05T14:45:37+03:00`); some
    installations drop the colon or the offset: read them all, UTC when none."""
    if not value:
        return None
    text = value.strip().replace(" ", "+")  # an unescaped "+" in a query is a space
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":" and "T" in text:
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadQuery(f"{name} is not an ISO 8601 date and time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo("UTC"))


def parse_query(params: dict[str, str]) -> tuple[datetime | None, datetime | None, int, int]:
    """(from, to, limit, offset); names are read case-insensitively, as IDENT varies."""
    lower = {k.lower(): v for k, v in params.items()}
    start = _when(lower.get("datetimefrom"), "dateTimeFrom")
    end = _when(lower.get("datetimeto"), "dateTimeTo")
    try:
        limit = int(lower.get("limit") or DEFAULT_LIMIT)
        offset = int(lower.get("offset") or 0)
    except ValueError as exc:
        raise BadQuery("limit and offset are whole numbers") from exc
    if limit < 1 or offset < 0:
        raise BadQuery("limit must be positive and offset not negative")
    return start, end, min(limit, MAX_LIMIT), offset


class TicketSource(Protocol):
    """What a ticket is made of: a referral, its money and whom to call (read-only)."""

    @property
    def id(self) -> UUID: ...
    @property
    def sent_at(self) -> datetime: ...
    @property
    def invite_code(self) -> str: ...
    @property
    def estimated_amount(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def name(self) -> str: ...


def ticket(row: TicketSource, summary: str, tz: str) -> dict[str, Any]:
    """One referral as an IDENT ticket."""
    sent_at: datetime = row.sent_at.astimezone(ZoneInfo(tz)).replace(microsecond=0)
    digits = get_currency_precision(row.currency)
    amount = format_currency(row.estimated_amount / 10**digits, row.currency, locale="ru_RU")
    return {
        "Id": str(row.id),
        "DateAndTime": sent_at.isoformat(),
        "ClientPhone": row.phone,
        "ClientFullName": row.name,
        "FormName": FORM_NAME,
        "Comment": f"Код направления {row.invite_code}. План: {summary}. Оценка {amount}.",
    }

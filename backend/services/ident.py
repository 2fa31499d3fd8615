"""IDENT's exchange: it pulls the clinic's referrals as tickets (which records that the
clinic's system received them) and posts its timetable, which is taken and not kept."""

from contextlib import suppress
from datetime import datetime
from typing import Any

import msgspec

from backend.domain.claims import ReceivedIn
from backend.domain.events import Source
from backend.integrations.adapters import ADAPTERS
from backend.integrations.base import Connection
from backend.integrations.ident import KEY_HEADER, BadQuery, parse_query, ticket
from backend.runtime.clock import utcnow
from backend.services.claims import record_clinic_claim
from backend.services.connections import by_token
from backend.services.errors import ServiceError
from backend.store import integrations as store
from backend.store.engine import write_transaction

WRONG_KEY = "Неверный ключ интеграции (IDENT-Integration-Key)"


class IdentAnswer(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    text: str = ""  # plain text for IDENT's exchange log, on errors
    tickets: list[dict[str, Any]] | None = None


async def _ident(token: str, key: str | None, secret_key: str) -> Connection | None:
    conn = await by_token(token, secret_key)
    if conn is None or conn.system != "ident":
        return None
    known = ADAPTERS[conn.system].authenticate(conn, {KEY_HEADER: key or ""}, b"")
    return conn if known else None


async def ident_tickets(
    token: str,
    key: str | None,
    params: dict[str, str],
    *,
    secret_key: str,
    now: datetime | None = None,
) -> IdentAnswer:
    """The clinic's referrals sent in IDENT's window, as tickets. IDENT having them means
    the clinic's system received them: that is recorded as IDENT's `received` claim."""
    now = now or utcnow()
    conn = await _ident(token, key, secret_key)
    if conn is None:
        return IdentAnswer(status=401, text=WRONG_KEY)
    try:
        start, end, limit, offset = parse_query(params)
    except BadQuery as exc:
        return IdentAnswer(status=400, text=str(exc))
    rows = await store.ticket_rows(conn.clinic_id, start, end, limit, offset)
    titles = await store.estimate_titles([r.id for r in rows])
    tz = conn.config["timezone"]
    tickets = [ticket(r, "; ".join(titles.get(r.id, [])), tz) for r in rows]
    for r in rows:
        if r.step == "sent":
            # A referral that moved on meanwhile needs no receipt.
            with suppress(ServiceError):
                await record_clinic_claim(
                    r.id,
                    ReceivedIn(occurred_at=now),
                    source=Source.ident,
                    actor="ident",
                    idempotency_key=f"{conn.clinic_id}:ticket:{r.id}",
                    now=now,
                )
    async with write_transaction():
        await store.mark_synced(conn.integration_id, now)
    return IdentAnswer(status=200, tickets=tickets)


async def ident_timetable(
    token: str, key: str | None, *, secret_key: str, now: datetime | None = None
) -> IdentAnswer:
    """IDENT posts its timetable: the doctors' free intervals, which it sends to booking
    aggregators. It names no patient and no referral, so nothing of it is kept; what it
    does tell is that the clinic's IDENT is exchanging with us (last_sync_at). IDENT's
    documented HTTP exchange offers nothing more — no visits, plans or payments
    (docs/crm-money.md)."""
    conn = await _ident(token, key, secret_key)
    if conn is None:
        return IdentAnswer(status=401, text=WRONG_KEY)
    async with write_transaction():
        await store.mark_synced(conn.integration_id, now or utcnow())
    return IdentAnswer(status=200)

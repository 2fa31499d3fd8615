"""No personal data in the logs, even at DEBUG: a patient's journey and the staff's work
over HTTP, the outbox worker's pushes, an export and an erasure, with every logger in
the process captured (ours, Litestar's, the SQL drivers', httpx's), then searched for
every phone number, name, note and device token the run used, in every spelling a log
line could carry them (as given, JSON-escaped, URL-encoded)."""

import contextlib
import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote, quote_plus
from uuid import UUID

import pytest

from backend.domain.roles import Role
from backend.outbox.worker import handlers, run_once
from backend.runtime.clock import utcnow
from backend.runtime.logs import JsonFormatter, configure_logging
from backend.store import parties
from tests.factories import book, make_referral
from tests.http.patient_client import firebase_token
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import PASSWORD, Staff, make_staff, sign_in

PHONE_SENT = "8 (916) 765-43-21"  # as the exchange typed it
PHONE = "+79167654321"
PHONE_B = "+79035550011"
NAME, NAME_B, NEW_NAME = "Ксения Смирнова", "Пётр Сидоров", "Ксения Смирнова-Орлова"
NOTES = ["Звонила администратор Ольга", "Записали на среду", "Очень вежливо"]
TOKEN = "fcm-token-of-kseniya-0123456789abcdef"


def spellings(value: str) -> set[str]:
    """The ways a value may appear in a log line."""
    ways = {value, json.dumps(value)[1:-1], quote(value), quote_plus(value)}
    digits = "".join(ch for ch in value if ch.isdigit())
    if value.startswith("+") and len(digits) >= 10:
        ways |= {digits, digits[-10:]}  # a phone without its +, or without the country code
    return {w for w in ways if w}


def personal_values() -> dict[str, set[str]]:
    values = [PHONE, PHONE_B, PHONE_SENT, NAME, NAME_B, NEW_NAME, *NAME.split(), *NOTES, TOKEN]
    return {v: spellings(v) for v in values}


@pytest.fixture
def logs_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """The server's own logging (JSON lines to stderr) at DEBUG, as PLANTRACK_LOG_LEVEL=DEBUG
    sets it, plus a copy of the formatted lines, with pytest's capture kept on the root."""
    root = logging.getLogger()
    kept_handlers, kept_level = root.handlers[:], root.level
    configure_logging("DEBUG")
    copy = io.StringIO()
    formatted = logging.StreamHandler(copy)
    formatted.setFormatter(JsonFormatter())
    root.handlers.extend([formatted, *kept_handlers])
    caplog.set_level(logging.DEBUG)
    try:
        yield copy
    finally:
        root.handlers[:] = kept_handlers
        root.setLevel(kept_level)


def _record_text(record: logging.LogRecord) -> str:
    parts = [record.name, str(record.msg), repr(record.args)]
    with contextlib.suppress(Exception):  # a malformed record is still searched as it is
        parts.append(record.getMessage())
    parts.append(repr(getattr(record, "fields", "")))
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


async def _journey(client) -> None:
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    ex = operator.headers
    clinic = (
        await client.post(
            "/api/v1/exchange/clinics",
            headers=ex,
            json={"name": "Улыбка", "city": "Москва", "timezone": "Europe/Moscow"},
        )
    ).json()["id"]
    await client.post(
        "/api/v1/exchange/staff",
        headers=ex,
        json={
            "email": "coord@privacy.test",
            "role": "clinic_coordinator",
            "password": PASSWORD,
            "clinic_id": clinic,
        },
    )
    body = {
        "patient": {"phone": PHONE_SENT, "name": NAME},
        "clinic_id": clinic,
        "plan": {"items": [{"specialization": "therapy", "price": 650000, "title_ru": "Пломба"}]},
    }
    sent = await client.post("/api/v1/exchange/referrals", headers=ex, json=body)
    assert sent.status_code == 201, sent.text
    rid = sent.json()["id"]
    now = utcnow()
    await make_referral(UUID(clinic), PHONE_B, at=now, name=NAME_B)
    await book(UUID(rid), now + timedelta(days=1))

    # The patient: sign in, profile, device, answers with notes, rating, report, export.
    me = await patient_sign_in(client, PHONE, invite_code=sent.json()["invite_code"])
    h = me.headers
    await client.patch("/api/v1/me", headers=h, json={"name": NEW_NAME})
    await client.put("/api/v1/me/devices", headers=h, json={"token": TOKEN, "platform": "ios"})
    for q in (await client.get("/api/v1/me/questions", headers=h)).json()["items"]:
        await client.post(
            f"/api/v1/me/questions/{q['id']}/answer",
            headers=h,
            json={"answer": "yes", "note": NOTES[0]},
        )
    await client.post(
        f"/api/v1/me/referrals/{rid}/reports", headers=h, json={"kind": "booked", "note": NOTES[1]}
    )
    await client.post(
        f"/api/v1/me/referrals/{rid}/contact-rating",
        headers=h,
        json={"called": True, "stars": 5, "comment": NOTES[2]},
    )
    # Bad input too: refusals must not echo the body into the log.
    await client.post("/api/v1/me/erasure", headers=h, json={"confirm": NAME})
    await client.patch("/api/v1/me", headers=h, json={"name": NAME, "phone": PHONE})
    assert (await client.get("/api/v1/me/export", headers=h)).status_code == 200
    await run_once(handlers(None), worker="w")  # notifications and pushes, by the outbox

    # The clinic: searches by name and by phone (query strings), the card, the lists.
    row = await parties.staff_by_email("coord@privacy.test")
    coord = await sign_in(
        client,
        Staff(
            email=row.email,
            role=Role.clinic_coordinator,
            clinic_id=row.clinic,
            secret=row.totp_secret,
        ),
    )
    for q in (NAME.split()[0], PHONE[-7:], PHONE, NAME):
        await client.get("/api/v1/clinic/referrals", headers=coord.headers, params={"q": q})
    await client.get(f"/api/v1/clinic/referrals/{rid}", headers=coord.headers)
    await client.get(f"/api/v1/clinic/referrals/{rid}/timeline", headers=coord.headers)
    await client.get("/api/v1/clinic/nobody-called", headers=coord.headers)
    await client.get("/api/v1/exchange/disputes", headers=ex)
    await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)
    await client.get("/api/v1/exchange/referrals", headers=ex, params={"q": PHONE})

    # Erasure, then a refused sign-in with the erased phone.
    erased = await client.post("/api/v1/me/erasure", headers=h, json={"confirm": "erase"})
    assert erased.status_code == 200, erased.text
    await client.get("/api/v1/me", headers=h)
    await client.post(
        "/api/v1/auth/patient",
        json={"firebase_id_token": firebase_token(PHONE)},
    )


async def test_no_personal_data_reaches_the_logs(client, db, caplog, capsys, logs_at_debug):
    await _journey(client)
    sys.stderr.flush()
    captured = capsys.readouterr()
    sources = {
        "records": "\n".join(_record_text(r) for r in caplog.records),
        "json_lines": logs_at_debug.getvalue(),
        "stderr": captured.err + captured.out,
    }
    assert sources["json_lines"] and caplog.records  # the journey was logged at all
    values = personal_values()
    by_logger = {
        r.name
        for r in caplog.records
        if any(w in _record_text(r) for ways in values.values() for w in ways)
    }
    leaks = [
        (value, source, spelling)
        for value, ways in values.items()
        for source, text in sources.items()
        for spelling in ways
        if spelling in text
    ]
    print(
        f"scanned {len(values)} values in {sum(len(w) for w in values.values())} spellings "
        f"over {len(caplog.records)} records, {len(sources['json_lines'])} chars of JSON lines; "
        f"leaks: {len(leaks)} from loggers {sorted(by_logger)}"
    )
    assert leaks == []

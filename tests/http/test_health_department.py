"""The health department's routes: right figures, small cells suppressed, and no
personal data in any answer or download — not names, phones, ids, nor anything that
looks like a hash of them."""

import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl

from backend.domain.events import Completed, Contacted, ItemDone, Source, Visited
from backend.domain.funnel import fold_referral
from backend.domain.health_stats import Cell, PriceSpread
from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services.recording import Statement, record
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, revise_plan, send_referral
from backend.store import ledger, parties
from tests.http.staff_client import make_staff, sign_in

CODE = "A16.07.002"
# Looks like a UUID, a long hex digest (SHA-1/256, MD5), or a phone number.
SUSPECT = re.compile(
    r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|[0-9a-f]{24,}|\+?\d{10,}",
    re.IGNORECASE,
)


async def clinic(name: str, district: str) -> object:
    clinic_id = new_id()
    await parties.insert_clinic(
        clinic_id=clinic_id,
        name=name,
        city="Москва",
        district=district,
        timezone="Europe/Moscow",
        now=utcnow() - timedelta(days=60),
        phone="+74957770011",
    )
    return clinic_id


async def treated(clinic_id, name: str, phone: str, n: int, sent_at) -> list[str]:
    """A referral from sending to completion: visit n+1 days after, implant work done."""
    sent = await send_referral(
        patient=PatientIn(phone=phone, name=name),
        clinic_id=clinic_id,
        plan=PlanIn(items=[PlanItemIn(specialization="implantology", price=60_000_00)]),
        actor="test",
        sent_at=sent_at,
        now=sent_at,
    )
    rid = sent.referral_id
    await revise_plan(
        rid,
        PlanIn(
            items=[
                PlanItemIn(
                    specialization="implantology",
                    price=(55_000 + 1_000 * n) * 100,
                    code=CODE,
                    title_ru="Имплант",
                )
            ]
        ),
        reason="план клиники",
        source=Source.clinic_panel,
        actor="staff:t",
        occurred_at=sent_at + timedelta(hours=1),
        now=sent_at + timedelta(hours=1),
    )
    [line] = fold_referral(await ledger.events_of(rid)).plan.lines
    visit = sent_at + timedelta(days=n + 1)
    for at, body in (
        (sent_at + timedelta(hours=2), Contacted(outcome="booked", appointment_at=visit)),
        (visit, Visited()),
        (visit + timedelta(hours=1), ItemDone(item_id=line.item_id)),
        (visit + timedelta(hours=2), Completed()),
    ):
        await record(
            rid,
            Statement(body=body, source=Source.clinic_panel, actor="staff:t", occurred_at=at),
            now=at,
        )
    return [str(rid), str(sent.patient_id), sent.invite_code]


async def test_aggregates_are_anonymous_and_small_cells_suppressed(client, db):
    month = "2026-10"
    start = datetime(2026, 10, 5, 9, tzinfo=ZoneInfo("Europe/Moscow"))
    # Seven patients in one district (shown), two in another (suppressed).
    big, small = await clinic("Улыбка Хамовники", "Хамовники"), await clinic("Дента", "Арбат")
    people = [(f"Пациент{n} Тестовый{n}", f"+7916555{n:04d}") for n in range(9)]
    secrets: list[str] = [str(big), str(small), "Улыбка Хамовники", "Дента", "+74957770011"]
    for n, (name, phone) in enumerate(people):
        where = big if n < 7 else small
        secrets += await treated(where, name, phone, n % 3, start + timedelta(hours=n))
        secrets += [name, phone, phone[2:], phone[-7:], name.split()[0]]

    health = (await sign_in(client, await make_staff(Role.health_analyst))).headers
    answer = await client.get(f"/api/v1/health/aggregates?from={month}&to={month}", headers=health)
    assert answer.status_code == 200, answer.text
    cells = {(c["district"], c["specialization"]): c for c in answer.json()["items"]}
    shown, hidden = cells[("Хамовники", "implantology")], cells[("Арбат", "implantology")]
    assert shown["suppressed"] is False and shown["patients"] == 7
    assert (shown["plans_in"], shown["completed"]) == (7, 7)
    assert shown["plans_in_money"] == 7 * 60_000_00
    assert shown["executed_money"] == sum((55_000 + 1_000 * (n % 3)) * 100 for n in range(7))
    assert shown["median_wait_days"] == 2.0  # waits of 1, 2, 3, 1, 2, 3, 1 days
    assert shown["median_duration_days"] == 0.0  # done the day treatment began
    assert hidden["suppressed"] is True
    assert all(
        hidden[k] is None
        for k in hidden
        if k not in {"month", "district", "specialization", "suppressed"}
    )
    assert set(shown) == set(Cell.__struct_fields__)

    prices = await client.get(f"/api/v1/health/prices?from={month}&to={month}", headers=health)
    assert prices.status_code == 200, prices.text
    [spread] = [p for p in prices.json()["items"] if p["code"] == CODE]
    assert spread["suppressed"] is False and spread["plans"] == 9
    assert (spread["min"], spread["max"]) == (55_000_00, 57_000_00)
    assert set(spread) == set(PriceSpread.__struct_fields__)

    # Every answer and every download: nothing personal, nothing id- or hash-like.
    texts = [answer.text, prices.text]
    for path in ("aggregates", "prices"):
        for fmt in ("csv", "xlsx"):
            got = await client.get(
                f"/api/v1/health/{path}?from={month}&to={month}&format={fmt}", headers=health
            )
            assert got.status_code == 200
            if fmt == "csv":
                texts.append(got.content.decode("utf-8-sig"))
            else:
                sheet = openpyxl.load_workbook(io.BytesIO(got.content)).active
                texts.append(
                    "\n".join(
                        ",".join(str(v) for v in row) for row in sheet.iter_rows(values_only=True)
                    )
                )
    for text in texts:
        for secret in secrets:
            assert secret.casefold() not in text.casefold(), secret
        assert not SUSPECT.search(text), SUSPECT.search(text)

    # The health analyst's token opens nothing else.
    for path in (
        "/api/v1/exchange/funnel",
        "/api/v1/exchange/referrals",
        "/api/v1/clinic/referrals",
    ):
        assert (await client.get(path, headers=health)).status_code == 403

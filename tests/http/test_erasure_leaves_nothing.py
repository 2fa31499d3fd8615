"""Erasure leaves nothing behind: after a patient's whole life with us — a referral sent
to an amoCRM clinic (a lead named after them), the CRM's webhooks (one about a lead of
theirs we never linked), the app (sign-in, a device, answers with notes, a rating), a
picture with a caption, pushes — and their erasure, every table of the database (every
row, every column: text, JSON, bytes), read from the database's own catalogue, and
every object in the media store (the media directory, or the S3 bucket: the test runs on
both) with every size of each picture, are searched for their name, phone and tokens, in
every spelling stored text can carry them. Nothing is found; and staff lists show the
patient as erased instead of a blank name.
"""

import io
import sqlite3
from uuid import UUID

import asyncpg
from PIL import Image

from backend.domain.roles import Role
from backend.outbox.worker import handlers, run_once
from backend.settings import Settings
from tests.fakes import amocrm
from tests.http import test_amocrm
from tests.http.integration_client import FORM, send, work
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in
from tests.http.test_logs_no_personal_data import spellings
from tests.pictures import ON_BOTH_STORES, files_of, stored

NAME = "Алевтина Курочкина"
PHONE_TYPED = "8 (916) 222-33-44"  # as the exchange's operator typed it
PHONE = "+79162223344"
TOKEN = "fcm-token-of-alevtina-0123456789abcdef"
UID = "firebase-uid-of-alevtina-0001"
NOTE = f"Перезвоните, пожалуйста: {PHONE_TYPED}, {NAME}"
COMMENT = "Алевтина довольна звонком"
CAPTION = "ОПТГ Курочкина до лечения"


def needles(*values: str) -> dict[str, set[str]]:
    found = {v: spellings(v) for v in values}
    for word in NAME.split():  # the surname alone, the first name alone
        found[word] = spellings(word) | {word.lower(), word.upper()}
    return found


async def everything_in_the_database(settings: Settings) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every value of every table the database's
    catalogue lists."""
    found: list[tuple[str, str, str]] = []

    def text(value: object) -> str:
        if isinstance(value, bytes | bytearray | memoryview):
            raw = bytes(value)
            return raw.decode("utf-8", errors="ignore") + raw.decode("latin-1")
        return "" if value is None else str(value)

    if settings.is_sqlite:
        conn = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
        try:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - catalogue names
                columns = [d[0] for d in cursor.description]
                for row in cursor:
                    found += [(table, c, text(v)) for c, v in zip(columns, row, strict=True)]
        finally:
            conn.close()
        return found
    conn = await asyncpg.connect(settings.database_url)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        for table in tables:
            for row in await conn.fetch(f'SELECT * FROM "{table}"'):  # noqa: S608
                found += [(table, c, text(v)) for c, v in row.items()]
    finally:
        await conn.close()
    return found


async def everything_in_the_media_store(settings: Settings) -> list[tuple[str, str]]:
    """(key, its name and contents as text) for every object of the media store."""
    found = []
    for key, raw in (await stored(settings)).items():
        content = raw.decode("utf-8", errors="ignore") + raw.decode("latin-1")
        found.append((key, f"{key}\n{content}"))
    return found


def a_picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 180, 160)).save(out, format="PNG")
    return out.getvalue()


@ON_BOTH_STORES
async def test_after_erasure_nothing_of_the_patient_is_left(client, db):
    with amocrm.running() as crm:
        ex, clinic_id, path = await test_amocrm.setup(client, crm)
        sent = await send(client, ex, clinic_id, PHONE_TYPED, NAME)
        rid = sent["id"]
        await work(db)  # the referral goes to amoCRM: a lead with the patient's name
        lead = test_amocrm.lead_of(crm, sent["invite_code"])
        assert NAME in crm.leads[lead]["name"]

        # The clinic books the lead; amoCRM's webhook carries the lead's name.
        old = crm.move(lead, test_amocrm.BOOKED)
        crm.set_field(lead, test_amocrm.VISIT_FIELD, 1_800_000_000)
        booked = await client.post(path, content=crm.webhook((lead, old)), headers=FORM)
        # A lead of theirs we never made (a second enquiry typed in by hand): not linked
        # to the referral, but its delivery holds the name and the phone as typed.
        other = crm.new_id()
        crm.leads[other] = {
            **crm.leads[lead],
            "id": other,
            "name": f"Повторное обращение {NAME}, {PHONE_TYPED}",
        }
        again = await client.post(path, content=crm.webhook((other, old)), headers=FORM)
        assert booked.status_code == again.status_code == 200
        await work(db)

    # The patient: signs in, a device, answers with a note, rates with a comment.
    me = await patient_sign_in(client, PHONE, invite_code=sent["invite_code"], uid=UID)
    h = me.headers
    device = await client.put(
        "/api/v1/me/devices", headers=h, json={"token": TOKEN, "platform": "android"}
    )
    assert device.status_code == 200
    questions = (await client.get("/api/v1/me/questions", headers=h)).json()["items"]
    # Sent with Idempotency-Keys, as the app sends them: the kept answers are searched too.
    for n, q in enumerate(questions):
        answer = {"answer": "yes", "note": NOTE}
        said = await client.post(
            f"/api/v1/me/questions/{q['id']}/answer",
            headers={**h, "Idempotency-Key": f"answer-{n}"},
            json=answer,
        )
        assert said.status_code == 200, said.text
    rated = await client.post(
        f"/api/v1/me/referrals/{rid}/contact-rating",
        headers={**h, "Idempotency-Key": "rating-1"},
        json={"called": True, "stars": 5, "comment": COMMENT},
    )
    assert rated.status_code == 200, rated.text
    # A picture, captioned by the exchange with the surname.
    upload = await client.post(
        f"/api/v1/exchange/referrals/{rid}/media",
        headers=ex,
        files={"file": ("opg.png", a_picture(), "image/png")},
        data={"kind": "xray", "phase": "before", "caption": CAPTION},
    )
    assert upload.status_code == 201, upload.text
    # The picture as uploaded, its thumbnail and screen size, each in WebP and JPEG.
    assert len(await everything_in_the_media_store(db)) == 5

    # The clinic says the patient came: a question, pushed to the device at any hour
    # (the patient turned quiet hours off); logged, as no FCM is configured here.
    quiet = {"quiet_hours": {"start": "00:00:00", "end": "00:00:00"}}
    assert (await client.patch("/api/v1/me", headers=h, json=quiet)).status_code == 200
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic_id))
    came = await client.post(
        f"/api/v1/clinic/referrals/{rid}/claims",
        headers=coordinator.headers,
        json={"kind": "visited"},
    )
    assert came.status_code == 200, came.text
    await work(db)
    # The clinic looks the patient up by name (audited).
    listed = await client.get(
        "/api/v1/clinic/referrals", headers=coordinator.headers, params={"q": "курочкина"}
    )
    assert [r["patient_name"] for r in listed.json()["items"]] == [NAME]

    values = needles(NAME, PHONE, PHONE_TYPED, TOKEN, UID, me.refresh, me.access, NOTE, COMMENT)
    before = [
        (table, column)
        for table, column, value in await everything_in_the_database(db)
        if any(w in value for ways in values.values() for w in ways)
    ]
    # The search finds them before: in the patient, the device, the deliveries, the
    # ledger's notes, the rating, the picture's caption, the pushes.
    assert {t for t, _ in before} >= {
        "patient",
        "device",
        "inbox",
        "event",
        "contact_rating",
        "media",
        "outbox",
    }, sorted(set(before))

    erased = await client.post("/api/v1/me/erasure", headers=h, json={"confirm": "erase"})
    assert erased.status_code == 200, erased.text
    # The worker removes the picture files (the erasure queued them in its transaction).
    worker = handlers(None, db.secret_key, media_files=files_of(db))
    await run_once(worker, worker="w")

    rows = await everything_in_the_database(db)
    files = await everything_in_the_media_store(db)
    left = [
        (where, value, spelling)
        for value, ways in values.items()
        for spelling in ways
        for where, text in [*((f"{t}.{c}", v) for t, c, v in rows), *files]
        if spelling in text
    ]
    print(
        f"\nafter erasure: {len(rows)} values in {len({t for t, _, _ in rows})} tables and "
        f"{len(files)} media files searched for {len(values)} values in "
        f"{sum(len(w) for w in values.values())} spellings; found {len(left)} "
        f"(before: in {len(set(before))} columns)"
    )
    assert left == []
    assert files == []

    # Staff lists say "erased", not a blank name and a placeholder phone.
    rows = (await client.get("/api/v1/clinic/referrals", headers=coordinator.headers)).json()
    [row] = [r for r in rows["items"] if r["id"] == rid]
    assert row["patient_name"] == "erased" and not row["patient_phone"]
    card = await client.get(f"/api/v1/clinic/referrals/{rid}", headers=coordinator.headers)
    assert card.json()["patient"]["name"] == "erased" and card.json()["patient"]["phone"] == ""
    # The patient row keeps its id, anonymised; the referral and its ledger stay.
    assert card.json()["patient"]["id"] == me.patient_id
    assert UUID(rid)

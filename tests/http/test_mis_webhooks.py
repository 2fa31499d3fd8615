"""A clinic's MIS posting Standard Webhooks, and IDENT pulling tickets, over HTTP."""

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from standardwebhooks import Webhook

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from tests.factories import make_clinic
from tests.http.integration_client import (
    connect,
    event_count,
    inbound_path,
    inbox,
    question_kinds,
    send,
    step_of,
    work,
)
from tests.http.staff_client import make_staff, sign_in


def signed(secret: str, event: dict, *, msg_id: str | None = None, at: datetime | None = None):
    """Body and headers exactly as a Standard Webhooks sender makes them."""
    body = json.dumps(event, ensure_ascii=False).encode()
    msg_id = msg_id or f"msg_{uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    return body, {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def event(kind: str, referral_id: str, **data) -> dict:
    return {
        "type": kind,
        "timestamp": utcnow().isoformat(),
        "data": {"referral_id": referral_id, **data},
    }


async def setup(client):
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    clinic_id = await make_clinic()
    configured = await connect(client, operator.headers, clinic_id, {"system": "webhook"})
    secret = configured["signing_secret"]
    assert secret.startswith("whsec_")
    return operator.headers, clinic_id, inbound_path(configured), secret


async def test_mis_events_take_a_referral_to_completed(client, db):
    ex, clinic_id, path, secret = await setup(client)
    phone = "+79161234580"
    sent = await send(client, ex, clinic_id, phone, "Анна Иванова")
    rid = sent["id"]
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    item_id = card["plans"][0]["items"][0]["item_id"]

    async def post(kind: str, **data) -> dict:
        body, headers = signed(secret, event(kind, rid, **data))
        answer = await client.post(path, content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        await work(db)
        return answer.json()

    now = utcnow()
    first_slot = now + timedelta(days=2)
    await post(
        "appointment.booked",
        appointment_at=first_slot.isoformat(),
        occurred_at=(now - timedelta(days=3)).isoformat(),
    )
    moved_to = now - timedelta(hours=2)
    await post(
        "appointment.moved",
        appointment_at=moved_to.isoformat(),
        occurred_at=(now - timedelta(days=1)).isoformat(),
    )
    assert await step_of(client, ex, rid) == "booked"
    assert {"confirm_contact", "confirm_booking"} <= await question_kinds(
        client, phone, sent["invite_code"]
    )
    await post("visit.happened", occurred_at=(moved_to + timedelta(minutes=10)).isoformat())
    await post("item.done", item_id=item_id)
    await post("payment.received", amount=650000)
    assert await step_of(client, ex, rid) == "in_treatment"
    await post("plan.completed")
    assert await step_of(client, ex, rid) == "completed"
    kinds = await question_kinds(client, phone, sent["invite_code"])
    assert {"confirm_item", "confirm_completed"} <= kinds
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    assert card["money"]["paid"] == 650000
    # The move cancelled the first booking; the visit fulfilled the second.
    appointments = {
        a["status"]: datetime.fromisoformat(a["starts_at"]) for a in card["appointments"]
    }
    assert appointments.keys() == {"cancelled", "fulfilled"}
    assert abs(appointments["cancelled"] - first_slot) < timedelta(seconds=1)
    assert abs(appointments["fulfilled"] - moved_to) < timedelta(seconds=1)

    # The same webhook-id again is the same event: answered, stored once, recorded once.
    count = await event_count(rid)
    body, headers = signed(secret, event("payment.received", rid, amount=650000), msg_id="msg_1")
    first = await client.post(path, content=body, headers=headers)
    again = await client.post(path, content=body, headers=headers)
    assert first.status_code == 202 and again.status_code == 200 and again.json()["duplicate"]
    await work(db)
    assert await event_count(rid) == count + 1
    for d in await inbox(client, ex, clinic_id=str(clinic_id)):
        await client.post(f"/api/v1/exchange/inbox/{d['id']}/replay", headers=ex)
    await work(db)
    assert await event_count(rid) == count + 1
    assert {d["status"] for d in await inbox(client, ex)} == {"processed"}


async def test_unsigned_stale_forged_and_malformed_events(client, db):
    ex, clinic_id, path, secret = await setup(client)
    sent = await send(client, ex, clinic_id, "+79161234581", "Пётр Сидоров")
    rid = sent["id"]
    visit = event("visit.happened", rid)

    body, headers = signed(secret, visit)
    unknown = await client.post(
        f"/integrations/webhooks/{uuid4().hex}", content=body, headers=headers
    )
    tampered = await client.post(path, content=body.replace(b"visit", b"VISIT"), headers=headers)
    stale_body, stale = signed(secret, visit, at=datetime.now(UTC) - timedelta(minutes=6))
    too_old = await client.post(path, content=stale_body, headers=stale)
    other_key = "whsec_" + "QUJD" * 11
    forged_body, forged = signed(other_key, visit)
    wrong_key = await client.post(path, content=forged_body, headers=forged)
    garbled = await client.post(
        path, content=body, headers={**headers, "webhook-signature": "garbage v1,###"}
    )
    unsigned = await client.post(path, content=body, headers={"content-type": "application/json"})
    for answer in (unknown, tampered, too_old, wrong_key, garbled, unsigned):
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"] == "not accepted"
    assert len(await inbox(client, ex, status="rejected")) == 5  # the unknown URL has no clinic

    # Signed but not an event we know: kept, 400 with the reason, shown as failed.
    body, headers = signed(secret, {"type": "visit.teleported", "data": {}})
    bad = await client.post(path, content=body, headers=headers)
    assert bad.status_code == 400 and "visit.teleported" in bad.json()["detail"]
    body, headers = signed(secret, event("payment.received", rid, amount=-5))
    negative = await client.post(path, content=body, headers=headers)
    assert negative.status_code == 400
    # Another clinic's referral is nobody's here.
    stranger = await send(client, ex, await make_clinic("Чужая"), "+79161234582", "Чужой")
    body, headers = signed(secret, event("visit.happened", stranger["id"]))
    assert (await client.post(path, content=body, headers=headers)).status_code == 202
    await work(db)
    failed = await inbox(client, ex, status="failed")
    assert len(failed) == 3
    assert "no referral" in failed[0]["error"] and "at this clinic" in failed[0]["error"]
    assert await step_of(client, ex, stranger["id"]) == "sent"
    assert await step_of(client, ex, rid) == "sent"


async def test_ident_pulls_tickets_with_its_key(client, db):
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    ex = operator.headers
    clinic_id = await make_clinic()
    configured = await connect(client, ex, clinic_id, {"system": "ident"})
    key = configured["integration_key"]
    base = inbound_path(configured)
    sent = await send(client, ex, clinic_id, "+79161234590", "Иванова Анна Сергеевна")
    await send(client, ex, await make_clinic("Чужая"), "+79161234591", "Чужой пациент")

    window = {
        "dateTimeFrom": (utcnow() - timedelta(days=1)).astimezone().isoformat(timespec="seconds"),
        "dateTimeTo": (utcnow() + timedelta(minutes=1)).astimezone().isoformat(timespec="seconds"),
        "limit": "500",
        "offset": "0",
    }
    wrong = await client.get(
        f"{base}/GetTickets", params=window, headers={"IDENT-Integration-Key": "nope"}
    )
    assert wrong.status_code == 401 and wrong.headers["content-type"].startswith("text/plain")
    tickets = await client.get(
        f"{base}/GetTickets", params=window, headers={"IDENT-Integration-Key": key}
    )
    assert tickets.status_code == 200, tickets.text
    [ticket] = tickets.json()
    assert ticket["Id"] == sent["id"] and ticket["ClientPhone"] == "+79161234590"
    assert ticket["ClientFullName"] == "Иванова Анна Сергеевна"
    assert sent["invite_code"] in ticket["Comment"] and "Пломба (16)" in ticket["Comment"]
    assert datetime.fromisoformat(ticket["DateAndTime"]).utcoffset() == timedelta(hours=3)
    # IDENT has it: the clinic's system received the referral, once.
    assert await step_of(client, ex, sent["id"]) == "delivered"
    count = await event_count(sent["id"])
    again = await client.get(
        f"{base}/GetTickets", params=window, headers={"IDENT-Integration-Key": key}
    )
    assert again.json() == tickets.json() and await event_count(sent["id"]) == count
    later = {**window, "offset": "1"}
    assert (
        await client.get(f"{base}/GetTickets", params=later, headers={"IDENT-Integration-Key": key})
    ).json() == []
    bad = await client.get(
        f"{base}/GetTickets",
        params={"dateTimeFrom": "yesterday"},
        headers={"IDENT-Integration-Key": key},
    )
    assert bad.status_code == 400 and "dateTimeFrom" in bad.text
    timetable = await client.post(
        f"{base}/PostTimeTable",
        json={"Doctors": [], "Branches": [], "Intervals": []},
        headers={"IDENT-Integration-Key": key},
    )
    assert timetable.status_code == 200

    # Reconnecting keeps the key unless rotated; rotating shows a new one and the old fails.
    kept = await connect(client, ex, clinic_id, {"system": "ident"})
    assert kept.get("integration_key") is None and inbound_path(kept) == base
    rotated = await client.put(
        f"/api/v1/exchange/clinics/{clinic_id}/integration?rotate=1",
        headers=ex,
        json={"system": "ident"},
    )
    new_base, new_key = inbound_path(rotated.json()), rotated.json()["integration_key"]
    assert new_key != key and new_base != base
    old = await client.get(f"{base}/GetTickets", headers={"IDENT-Integration-Key": key})
    assert old.status_code == 401
    new = await client.get(f"{new_base}/GetTickets", headers={"IDENT-Integration-Key": new_key})
    assert new.status_code == 200 and len(new.json()) == 1


async def test_events_delivered_out_of_order_fold_into_place(client, db):
    ex, clinic_id, path, secret = await setup(client)
    sent = await send(client, ex, clinic_id, "+79161234583", "Ольга Петрова")
    rid = sent["id"]
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    item_id = card["plans"][0]["items"][0]["item_id"]
    now = utcnow()
    booked_at, visit_at = now - timedelta(days=5), now - timedelta(days=3)
    done_at, completed_at = now - timedelta(days=2), now - timedelta(days=1)
    # The MIS's queue delivers the last event first and the first one last.
    for kind, at, data in [
        ("plan.completed", completed_at, {}),
        ("item.done", done_at, {"item_id": item_id}),
        ("visit.happened", visit_at, {}),
        ("appointment.booked", booked_at, {"appointment_at": visit_at.isoformat()}),
    ]:
        body, headers = signed(secret, event(kind, rid, occurred_at=at.isoformat(), **data))
        assert (await client.post(path, content=body, headers=headers)).status_code == 202
        await work(db)
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    assert card["step"] == "completed"
    steps = {s: datetime.fromisoformat(t) for s, t in card["step_at"].items()}
    for step, at in [
        ("booked", booked_at),
        ("visited", visit_at),
        ("completed", completed_at),
    ]:
        assert abs(steps[step] - at) < timedelta(seconds=1), (step, steps)


async def test_a_batch_records_each_claim_once_and_refuses_only_what_is_wrong(client, db):
    """Deliveries the worker takes in one batch: the claims on one referral recorded
    together in their order, a claim the ledger refuses and a referral of another clinic
    failing only their own deliveries, a repeated delivery stored once."""
    ex, clinic_id, path, secret = await setup(client)
    first = (await send(client, ex, clinic_id, "+79161234591", "Анна Смирнова"))["id"]
    second = (await send(client, ex, clinic_id, "+79161234592", "Ирина Смирнова"))["id"]
    elsewhere = await make_clinic()
    theirs = (await send(client, ex, elsewhere, "+79161234593", "Мария Смирнова"))["id"]
    now = utcnow()
    visit_at = now - timedelta(days=2)
    deliveries = [
        event(
            "appointment.booked",
            first,
            appointment_at=visit_at.isoformat(),
            occurred_at=(now - timedelta(days=4)).isoformat(),
        ),
        event("payment.received", second, amount=50_000),
        event("visit.happened", first, occurred_at=visit_at.isoformat()),
        event("item.done", first, item_id=str(uuid4())),  # no such procedure in the plan
        event("payment.received", theirs, amount=70_000),  # not this clinic's referral
        event("payment.received", first, amount=120_000),
    ]
    signed_ones = [signed(secret, e) for e in deliveries]
    for body, headers in [*signed_ones, signed_ones[-1]]:  # the last one sent twice
        assert (await client.post(path, content=body, headers=headers)).status_code in (200, 202)
    # Each delivery is handled (its row below); the notices of the questions the claims
    # raise go out too in the patient's daytime and wait at night, so more may be.
    assert await work(db) >= len(deliveries)

    rows = sorted(await inbox(client, ex, clinic_id=clinic_id), key=lambda r: r["id"])
    assert [r["status"] for r in rows] == [
        "processed",
        "processed",
        "processed",
        "failed",
        "failed",
        "processed",
    ]
    assert "at this clinic" in (rows[4]["error"] or "")
    card = (await client.get(f"/api/v1/exchange/referrals/{first}", headers=ex)).json()
    assert card["step"] == "in_treatment"  # the payment: the first money came
    # sent, plan, booked, visited, payment: the refused claim left nothing behind
    assert await event_count(first) == 5
    assert await event_count(second) == 3
    assert await event_count(theirs) == 2

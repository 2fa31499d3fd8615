"""A Bitrix24 clinic, end to end over real HTTP: our app receives the portal's events as
form-encoded bytes, reads deals from a local fake portal with httpx, and records what
they say; new referrals become deals there."""

from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from backend.runtime.clock import utcnow
from backend.services import crm_reconcile
from backend.store import integrations as integration_store
from tests.fakes import bitrix24
from tests.fakes.bitrix24 import bitrix_time
from tests.http.integration_client import (
    FORM,
    connect,
    connect_new_clinic,
    event_count,
    inbox,
    question_kinds,
    send,
    step_of,
    work,
)


@pytest.fixture
def portal():
    with bitrix24.running() as fake:
        yield fake


def config(portal, **extra) -> dict:
    return {
        **portal.connection(),
        "category_id": 1,
        "fields": {"appointment_at": "UF_CRM_VISIT_AT"},
        "stage_map": bitrix24.STAGE_MAP,
        **extra,
    }


async def setup(client, portal):
    return await connect_new_clinic(client, config(portal))


async def test_a_referral_goes_from_sent_to_completed_through_bitrix24(client, db, portal):
    ex, clinic_id, path = await setup(client, portal)
    phone = "+79161234567"
    sent = await send(client, ex, clinic_id, phone, "Анна Иванова")
    rid = sent["id"]
    await work(db)

    # The referral is a deal in the clinic's pipeline, with a contact, linked to us.
    deal_id = portal.deal_of(rid)
    deal = portal.deals[deal_id]
    assert deal["STAGE_ID"] == "C1:NEW" and deal["CATEGORY_ID"] == "1"
    assert deal["ORIGINATOR_ID"] == "plantrack" and deal["OPPORTUNITY"] == "14000.00"
    contact = portal.contacts[deal["CONTACT_IDS"][0]]
    assert contact["PHONE"] == [{"VALUE": phone, "VALUE_TYPE": "MOBILE"}]
    assert sent["invite_code"] in deal["TITLE"]

    async def event(name: str = "ONCRMDEALUPDATE", body: bytes | None = None) -> None:
        answer = await client.post(path, content=body or portal.event(name, deal_id), headers=FORM)
        assert answer.status_code == 200, answer.text
        await work(db)

    # The portal echoes our own deal back: that is the clinic's CRM having it. No loop.
    await event("ONCRMDEALADD")
    assert await step_of(client, ex, rid) == "delivered"
    assert len(portal.deals) == 1

    now = utcnow()
    visit_at = now - timedelta(days=1)
    portal.move(
        deal_id,
        "C1:PREPARATION",
        at=now - timedelta(days=3),
        UF_CRM_VISIT_AT=bitrix_time(visit_at),
    )
    await event()
    assert await step_of(client, ex, rid) == "booked"
    assert await question_kinds(client, phone, sent["invite_code"]) >= {
        "confirm_contact",
        "confirm_booking",
    }

    portal.move(deal_id, "C1:EXECUTING", at=visit_at + timedelta(minutes=20))
    await event()
    assert await step_of(client, ex, rid) == "visited"
    assert "confirm_visit" in await question_kinds(client, phone, sent["invite_code"])

    portal.move(deal_id, "C1:WON", at=now - timedelta(hours=1))
    events_before = await event_count(rid)
    await event()
    assert await step_of(client, ex, rid) == "completed"
    assert "confirm_completed" in await question_kinds(client, phone, sent["invite_code"])
    assert await event_count(rid) == events_before + 1

    # The same event again (Bitrix24 queues can repeat), and every delivery replayed:
    # nothing new in the ledger, every delivery still processed.
    await event()
    deliveries = await inbox(client, ex, clinic_id=str(clinic_id))
    assert [d["status"] for d in deliveries] == ["processed"] * 5
    assert deliveries[0]["result"]["changes"][0]["outcome"] == "duplicate"
    for d in deliveries:
        replayed = await client.post(f"/api/v1/exchange/inbox/{d['id']}/replay", headers=ex)
        assert replayed.status_code == 202, replayed.text
    await work(db)
    assert await event_count(rid) == events_before + 1
    assert [d["status"] for d in await inbox(client, ex, clinic_id=str(clinic_id))] == [
        "processed"
    ] * 5
    # The claims are the clinic's, from its CRM, at the times the CRM moved the deal.
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    assert card["step_at"]["visited"].startswith(
        (visit_at + timedelta(minutes=20)).date().isoformat()
    )


async def test_wrong_token_unknown_stage_and_malformed_events_are_kept_and_shown(
    client, db, portal
):
    ex, clinic_id, path = await setup(client, portal)
    sent = await send(client, ex, clinic_id, "+79161234568", "Пётр Сидоров")
    await work(db)
    deal_id = portal.deal_of(sent["id"])

    # An unknown URL and a wrong application token get the same answer.
    unknown = await client.post(
        f"/integrations/bitrix24/{uuid4().hex}", content=portal.event("ONCRMDEALUPDATE", deal_id)
    )
    wrong = await client.post(
        path, content=portal.event("ONCRMDEALUPDATE", deal_id, token="forged"), headers=FORM
    )
    assert unknown.status_code == wrong.status_code == 403
    assert unknown.json()["detail"] == wrong.json()["detail"] == "not accepted"
    rejected = await inbox(client, ex, status="rejected")
    assert len(rejected) == 1 and rejected[0]["error"] == "authentication failed"

    # A stage the map does not know is recorded and shown, not guessed.
    portal.move(deal_id, "C1:UC_THINKING")
    await client.post(path, content=portal.event("ONCRMDEALUPDATE", deal_id), headers=FORM)
    await work(db)
    unmapped = await inbox(client, ex, status="unmapped")
    assert unmapped[0]["result"]["unknown_stages"] == ["C1:UC_THINKING"]
    clinic = (await client.get(f"/api/v1/exchange/clinics/{clinic_id}", headers=ex)).json()
    assert clinic["integration"]["unknown_stages"] == ["C1:UC_THINKING"]
    assert clinic["delivery_channel"] == "bitrix24"
    assert await step_of(client, ex, sent["id"]) == "sent"

    # The exchange maps it; replaying the delivery applies it.
    await connect(
        client,
        ex,
        clinic_id,
        config(portal, stage_map={**bitrix24.STAGE_MAP, "C1:UC_THINKING": {"kind": "received"}}),
    )
    await client.post(f"/api/v1/exchange/inbox/{unmapped[0]['id']}/replay", headers=ex)
    await work(db)
    assert await step_of(client, ex, sent["id"]) == "delivered"
    clinic = (await client.get(f"/api/v1/exchange/clinics/{clinic_id}", headers=ex)).json()
    assert clinic["integration"]["unknown_stages"] == []

    # Authentic but unreadable: kept, failed with its reason, replay changes nothing.
    broken = (
        b"event=ONCRMDEALUPDATE&auth%5Bapplication_token%5D=" + portal.application_token.encode()
    )
    broken += b"&auth%5Bmember_id%5D=" + portal.member_id.encode()
    assert (await client.post(path, content=broken, headers=FORM)).status_code == 200
    await work(db)
    failed = await inbox(client, ex, status="failed")
    assert failed[0]["error"] == "no data[FIELDS][ID] in the event"
    detail = (await client.get(f"/api/v1/exchange/inbox/{failed[0]['id']}", headers=ex)).json()
    assert detail["body"] == broken.decode()
    count = await event_count(sent["id"])
    await client.post(f"/api/v1/exchange/inbox/{failed[0]['id']}/replay", headers=ex)
    await work(db)
    assert (await inbox(client, ex, status="failed"))[0]["attempts"] == 2
    assert await event_count(sent["id"]) == count

    # A deal that is not one of ours is ignored; a deleted one too.
    stranger = portal.add_deal(STAGE_ID="C1:WON")
    await client.post(path, content=portal.event("ONCRMDEALUPDATE", stranger), headers=FORM)
    await client.post(path, content=portal.event("ONCRMDEALUPDATE", 999999), headers=FORM)
    await work(db)
    ignored = await inbox(client, ex, status="ignored")
    notes = sorted(d["result"]["changes"][0]["note"] for d in ignored)
    assert notes == ["deal not found", "not a referral of ours"]


async def test_lost_events_are_caught_up_by_reconcile(client, db, portal):
    ex, clinic_id, _path = await setup(client, portal)
    sent = await send(client, ex, clinic_id, "+79161234569", "Ольга Смирнова")
    await work(db)
    deal_id = portal.deal_of(sent["id"])

    # The portal moves the deal but its event never reaches us (Bitrix24 does not retry).
    portal.move(
        deal_id, "C1:PREPARATION", UF_CRM_VISIT_AT=bitrix_time(utcnow() + timedelta(days=2))
    )
    assert await step_of(client, ex, sent["id"]) == "sent"
    await work(db, now=utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1))
    assert await step_of(client, ex, sent["id"]) == "booked"
    caught = await inbox(client, ex, clinic_id=str(clinic_id))
    assert caught[0]["status"] == "processed" and caught[0]["delivery_key"].startswith("reconcile:")
    # Replaying the reconcile run re-reads the same window: nothing twice.
    count = await event_count(sent["id"])
    await client.post(f"/api/v1/exchange/inbox/{caught[0]['id']}/replay", headers=ex)
    await work(db)
    assert await event_count(sent["id"]) == count
    row = await integration_store.of_clinic(clinic_id)
    assert row.last_sync_at is not None


async def test_events_arriving_in_reverse_order_settle_on_the_deals_state(client, db, portal):
    ex, clinic_id, path = await setup(client, portal)
    sent = await send(client, ex, clinic_id, "+79161234572", "Вера Орлова")
    await work(db)
    deal_id = portal.deal_of(sent["id"])
    now = utcnow()
    visit_at = now - timedelta(days=1)
    # Two moves, both events queued; the second move's event overtakes the first's.
    portal.move(
        deal_id, "C1:PREPARATION", at=now - timedelta(days=2), UF_CRM_VISIT_AT=bitrix_time(visit_at)
    )
    first = portal.event("ONCRMDEALUPDATE", deal_id)
    portal.move(deal_id, "C1:EXECUTING", at=visit_at + timedelta(minutes=15))
    second = portal.event("ONCRMDEALUPDATE", deal_id)
    assert (await client.post(path, content=second, headers=FORM)).status_code == 200
    await work(db)
    count = await event_count(sent["id"])
    assert (await client.post(path, content=first, headers=FORM)).status_code == 200
    await work(db)
    # Each event re-reads the deal, so the late one finds the newer state: nothing new.
    assert await event_count(sent["id"]) == count
    assert await step_of(client, ex, sent["id"]) == "visited"
    card = (await client.get(f"/api/v1/exchange/referrals/{sent['id']}", headers=ex)).json()
    visited = datetime.fromisoformat(card["step_at"]["visited"])
    assert abs(visited - (visit_at + timedelta(minutes=15))) < timedelta(seconds=1)


async def test_rate_limit_and_outage_are_waited_out_and_a_deal_is_made_once(client, db, portal):
    ex, clinic_id, _ = await setup(client, portal)
    portal.bucket_size, portal.drain_per_second = 2, 0  # two calls, then 503 until it drains
    sent = await send(client, ex, clinic_id, "+79161234570", "Иван Петров")
    await work(db)
    assert portal.limited >= 1 and not portal.deals  # it waited instead of failing
    later = utcnow() + timedelta(minutes=5)
    portal.down = True
    await work(db, now=later)
    portal.down, portal.bucket_size, portal.drain_per_second = False, 50, 2
    for minutes in (30, 90, 180):
        await work(db, now=utcnow() + timedelta(minutes=minutes))
    portal.deal_of(sent["id"])
    assert len(portal.contacts) == 1
    assert portal.methods_called().count("crm.deal.add") == 1


async def test_the_portals_stages_are_shown_beside_the_map(client, db, portal):
    ex, clinic_id, _ = await setup(client, portal)
    url = f"/api/v1/exchange/clinics/{clinic_id}/integration/stages"
    answer = await client.get(url, headers=ex)
    assert answer.status_code == 200, answer.text
    stages = {s["key"]: (s["name"], s["semantics"], s["maps_to"]) for s in answer.json()["stages"]}
    assert stages["C1:PREPARATION"] == ("Записан", "process", "contacted/booked")
    assert stages["C1:WON"] == ("Лечение завершено", "success", "completed")
    assert stages["C1:LOSE"] == ("Отказ", "failure", "closed")
    assert stages["WON"] == ("Сделка успешна", "success", None)  # default funnel: unmapped
    assert answer.json()["map_keys_not_in_crm"] == []
    assert (
        "crm.status.list",
        {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": "DEAL_STAGE_1"}},
    ) in portal.calls

    # A typo in the map is pointed out; a portal that is down is a 503, not a 500.
    await connect(
        client,
        ex,
        clinic_id,
        config(portal, stage_map={**bitrix24.STAGE_MAP, "C1:WONN": {"kind": "completed"}}),
    )
    assert (await client.get(url, headers=ex)).json()["map_keys_not_in_crm"] == ["C1:WONN"]
    portal.down = True
    down = await client.get(url, headers=ex)
    assert down.status_code == 503 and "did not answer" in down.json()["detail"]

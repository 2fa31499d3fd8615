"""What a delivery's result says, as stored: each kind of change's outcome (a recorded
claim, a duplicate, a refusal, a referral not at this clinic, an unknown stage, money, a
plan or a cancelled procedure from an MIS, a replay, a reconcile pass) pinned key by key —
which keys are there, which are null — because operators read it, the clinic's unknown
stages are read back from it, and rows stored long ago are read next to new ones."""

import json
import re
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest

from backend.runtime.clock import utcnow
from backend.services import crm_reconcile
from backend.store import integrations as integration_store
from backend.store.engine import is_postgres
from backend.store.tables import Event, Inbox
from tests.factories import make_clinic
from tests.fakes import bitrix24
from tests.fakes.bitrix24 import bitrix_time
from tests.http.integration_client import FORM, connect_new_clinic, inbox, send, work
from tests.http.test_mis_webhooks import event, setup, signed


async def stored(delivery_id: int) -> str:
    """The result column's text, as the database holds it."""
    [row] = await Inbox.raw(
        "SELECT CAST(result AS text) AS result FROM inbox WHERE id = {}", delivery_id
    )
    return row["result"]


async def event_names(referral_id: str, label: str) -> dict[int, str]:
    """A referral's events by id → "label#n", n its place in the ledger."""
    rows = await Event.select(Event.id).where(Event.referral == UUID(referral_id))
    return {i: f"{label}#{n}" for n, i in enumerate(sorted(r["id"] for r in rows))}


def shape(raw: str, names: dict[str, str], events: dict[int, str]) -> Any:
    """The stored result with the test's own ids (referrals, items, events) named."""

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, str):
            for real, name in names.items():
                # Whole ids only: a short one (a deal's number) may occur inside a UUID.
                value = re.sub(rf"(?<![0-9a-f-]){re.escape(real)}(?![0-9a-f-])", name, value)
            return value
        if isinstance(value, int) and key in ("event_id", "corrections"):
            return events.get(value, value)
        return value

    return walk(json.loads(raw))


def assert_stored(raw: str, names: dict[str, str], events: dict[int, str], expected: Any) -> None:
    """The stored result is `expected`, keys in its order (on SQLite, which keeps the text
    as written; PostgreSQL's jsonb orders keys its own way), written compactly."""
    found = shape(raw, names, events)
    assert found == expected, json.dumps(found, ensure_ascii=False)
    if not is_postgres():
        assert json.dumps(found, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
        assert raw == msgspec.json.encode(json.loads(raw)).decode()


async def newest(client, ex: dict, clinic_id: Any, count: int = 1) -> list[dict[str, Any]]:
    return (await inbox(client, ex, clinic_id=str(clinic_id), limit=count))[::-1]


async def test_an_mis_deliverys_outcomes_are_stored_as_they_always_were(client, db):
    ex, clinic_id, path, secret = await setup(client)
    sent = await send(client, ex, clinic_id, "+79161260001", "Анна Иванова")
    rid = sent["id"]
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    item_id = card["plans"][0]["items"][0]["item_id"]
    other_clinic = await make_clinic()
    theirs = (await send(client, ex, other_clinic, "+79161260002", "Пётр Петров"))["id"]
    missing = str(uuid4())
    names = {rid: "RID", theirs: "THEIRS", missing: "MISSING", item_id: "ITEM"}

    async def post(kind: str, referral_id: str = rid, msg_id: str | None = None, **data) -> None:
        body, headers = signed(secret, event(kind, referral_id, **data), msg_id=msg_id)
        answer = await client.post(path, content=body, headers=headers)
        assert answer.status_code == 202, answer.text

    # One batch: claims on one referral recorded together, one of them refused (each then
    # recorded alone), a referral of another clinic's, and one that does not exist.
    await post("visit.happened", msg_id="mis-visit")
    await post("item.done", item_id=str(uuid4()))
    await post("visit.happened", theirs)
    await post("visit.happened", missing)
    await work(db)
    visit, refused, not_ours, nowhere = await newest(client, ex, clinic_id, 4)

    async def pin(delivery: dict, claim: str | None, outcome: str, **rest: Any) -> None:
        """One MIS event's change (an MIS names no object and no stage), as stored."""
        change = {"external_id": None, "referral_id": "RID", "stage": None, "claim": claim}
        expected = {"changes": [{**change, "outcome": outcome, **rest}], "unknown_stages": []}
        events = await event_names(rid, "E")
        assert_stored(await stored(delivery["id"]), names, events, expected)

    await pin(visit, "visited", "recorded", event_id="E#2")
    error = "item_id is not in any version of this referral's plan"
    await pin(refused, "item_done", "refused", error=error)
    for delivery, who in ((not_ours, "THEIRS"), (nowhere, "MISSING")):
        error = f"no referral {who} at this clinic"
        await pin(delivery, "visited", "refused", referral_id=None, error=error)

    # Replayed: the same claim is a duplicate of the event it made.
    await client.post(f"/api/v1/exchange/inbox/{visit['id']}/replay", headers=ex)
    await work(db)
    await pin(visit, "visited", "duplicate", event_id="E#2")

    # A plan the MIS states, and a procedure it cancels (one not done: refused, then one
    # done: its correction).
    await post(
        "plan.revised",
        reason="План после осмотра",
        items=[
            {"item_id": item_id, "specialization": "therapy", "price": 7_000_00, "title_ru": "П"}
        ],
    )
    await work(db)
    await post("item.cancelled", item_id=item_id, reason="сторно")
    await work(db)
    await post("item.done", item_id=item_id)
    await work(db)
    await post("item.cancelled", item_id=item_id, reason="сторно")
    await work(db)
    plan, not_done, _done, cancelled = await newest(client, ex, clinic_id, 4)
    await pin(plan, None, "recorded", plan_version=2)
    error = "item ITEM is not reported done: nothing to cancel"
    await pin(not_done, None, "refused", error=error)
    await pin(cancelled, None, "recorded", corrections=["E#5"])


# No booking stage: it would need a field for the visit's time, which nothing here reads.
STAGES = {
    "C1:NEW": {"kind": "received"},
    "C1:EXECUTING": {"kind": "visited"},
    "C1:UC_DONE": {"kind": "item_done", "items": "all"},
    "C1:WON": {"kind": "completed"},
}


@pytest.fixture
def portal():
    fake = bitrix24.FakeBitrix24()
    fake.user_field("UF_CRM_PAID", "Оплачено", "money")
    fake.user_field("UF_CRM_DONE", "Выполнено", "string", multiple=True)
    with bitrix24.running(fake) as running:
        yield running


async def test_a_crm_deliverys_outcomes_are_stored_as_they_always_were(client, db, portal):
    config = {
        **portal.connection(),
        "category_id": 1,
        "fields": {"paid_amount": "UF_CRM_PAID", "done_rows": "UF_CRM_DONE"},
        "stage_map": STAGES,
    }
    ex, clinic_id, path = await connect_new_clinic(client, config)
    sent = await send(client, ex, clinic_id, "+79161260003", "Вера Орлова")
    rid = sent["id"]
    await work(db)
    deal_id = portal.deal_of(rid)
    t0 = utcnow() - timedelta(hours=5)
    portal.deals[deal_id]["DATE_CREATE"] = portal.deals[deal_id]["MOVED_TIME"] = bitrix_time(t0)
    names = {rid: "RID", str(deal_id): "DEAL"}

    async def deliver(deal: int = deal_id) -> dict[str, Any]:
        body = portal.event("ONCRMDEALUPDATE", deal)
        answer = await client.post(path, content=body, headers=FORM)
        assert answer.status_code == 200, answer.text
        await work(db)
        [delivery] = await newest(client, ex, clinic_id)
        return delivery

    def change(stage: str | None, claim: str | None, **rest: Any) -> dict[str, Any]:
        return {
            "external_id": "deal:DEAL",
            "referral_id": "RID",
            "stage": stage,
            "claim": claim,
            **rest,
        }

    async def pin(delivery: dict[str, Any], changes: list, unknown: list | None = None) -> None:
        events = await event_names(rid, "E")
        expected = {"changes": changes, "unknown_stages": unknown or []}
        assert_stored(await stored(delivery["id"]), names, events, expected)

    # An unknown stage: unmapped, and named for the clinic's settings; its money, none.
    portal.move(deal_id, "C1:UC_THINKING", at=t0 + timedelta(minutes=1))
    unmapped = await deliver()
    quiet = {
        "status": "same",
        "plan_version": None,
        "added_lines": [],
        "items_done": [],
        "payments": [],
        "corrections": [],
        "unmatched_done_rows": [],
        "deal_amount": 14_000_00,
        "rows_amount": None,
    }
    await pin(
        unmapped,
        [change("C1:UC_THINKING", None, money=quiet, outcome="unmapped")],
        ["C1:UC_THINKING"],
    )
    assert await integration_store.unknown_stages(UUID(str(clinic_id))) == ["C1:UC_THINKING"]

    # A deal not ours, and a deal gone: ignored, with why.
    stranger = portal.add_deal(STAGE_ID="C1:WON")
    names[str(stranger)] = "STRANGER"
    await pin(
        await deliver(stranger),
        [
            {
                "external_id": "deal:STRANGER",
                "referral_id": None,
                "stage": "C1:WON",
                "claim": "completed",
                "outcome": "ignored",
                "note": "not a referral of ours",
            }
        ],
    )

    # A stage with a claim, recorded; then its money: the rows as the plan, a payment.
    portal.move(deal_id, "C1:EXECUTING", at=t0 + timedelta(minutes=2))
    await pin(
        await deliver(),
        [change("C1:EXECUTING", "visited", money=quiet, outcome="recorded", event_id="E#2")],
    )
    portal.set_rows(
        deal_id,
        [
            {"name": "Пломба", "price": 7000},
            {"name": "Гигиена", "price": 7500},
            {"name": "Удаление зуба", "price": 4000},
        ],
        at=t0 + timedelta(minutes=3),
    )
    portal.update(deal_id, at=t0 + timedelta(minutes=3), UF_CRM_PAID="7000|RUB")
    rows = await deliver()
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    for p in card["plans"]:
        for i in p["items"]:
            names.setdefault(i["item_id"], f"ITEM:{i['title_ru']}")
    money = {
        "status": "recorded",
        "plan_version": 2,
        "added_lines": ["Удаление зуба"],
        "items_done": [],
        "payments": [7_000_00],
        "corrections": [],
        "unmatched_done_rows": [],
        "deal_amount": 18_500_00,
        "rows_amount": 18_500_00,
    }
    await pin(
        rows,
        [change("C1:EXECUTING", "visited", money=money, outcome="recorded", event_id="E#2")],
    )

    # The same deal again: nothing new, the money the same.
    same = {**money, "status": "same", "plan_version": None, "added_lines": [], "payments": []}
    await pin(
        await deliver(),
        [change("C1:EXECUTING", "visited", money=same, outcome="duplicate", event_id="E#2")],
    )

    # A done rows field naming no row, and a paid amount in another currency: refused.
    portal.update(
        deal_id, at=t0 + timedelta(minutes=4), UF_CRM_DONE=["Коронка"], UF_CRM_PAID="100|USD"
    )
    refused = await deliver()
    error = "paid so far is in USD, the referral in RUB: not booked"
    await pin(
        refused,
        [
            change(
                "C1:EXECUTING",
                "visited",
                money={
                    **same,
                    "status": "refused",
                    "unmatched_done_rows": ["Коронка"],
                    "errors": [error],
                },
                outcome="refused",
                event_id="E#2",
                error=error,
            )
        ],
    )

    # A stage that marks every line done: no claim of its own (ignored, with why), but its
    # money recorded something, so the change did.
    older = dict(portal.deals[deal_id])
    portal.move(deal_id, "C1:UC_DONE", at=t0 + timedelta(minutes=5), UF_CRM_DONE=[])
    portal.update(deal_id, at=t0 + timedelta(minutes=5), UF_CRM_PAID="7000|RUB")
    done = await deliver()
    await pin(
        done,
        [
            change(
                "C1:UC_DONE",
                None,
                money={
                    **same,
                    "status": "recorded",
                    "items_done": ["ITEM:Пломба", "ITEM:Гигиена", "ITEM:Удаление зуба"],
                },
                outcome="recorded",
                note="procedures done by stage (all)",
            )
        ],
    )

    # An older state of the deal, read after a newer one: stale, not applied.
    portal.lagging[deal_id] = older
    stale = await deliver()
    [stale_change] = shape(await stored(stale["id"]), names, {})["changes"]
    assert stale_change["money"]["status"] == "stale"
    assert sorted(stale_change["money"]) == ["note", "status"]
    if not is_postgres():
        assert list(stale_change["money"]) == ["status", "note"]

    # Unreadable: failed, nothing in it.
    broken = (
        b"event=ONCRMDEALUPDATE&auth%5Bapplication_token%5D=" + portal.application_token.encode()
    )
    broken += b"&auth%5Bmember_id%5D=" + portal.member_id.encode()
    assert (await client.post(path, content=broken, headers=FORM)).status_code == 200
    await work(db)
    [failed] = await newest(client, ex, clinic_id)
    assert failed["status"] == "failed"
    await pin(failed, [])

    # A reconcile pass that recorded something leaves its delivery, finished the same way.
    portal.move(deal_id, "C1:WON", at=utcnow())
    await work(db, now=utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1))
    [reconciled] = await newest(client, ex, clinic_id)
    assert reconciled["delivery_key"].startswith("reconcile:")
    [won] = shape(await stored(reconciled["id"]), names, await event_names(rid, "E"))["changes"]
    assert won["claim"] == "completed" and won["outcome"] == "recorded"

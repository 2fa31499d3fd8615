"""An amoCRM clinic's money, end to end over real HTTP: the products linked to the lead
become the clinic's plan, a text field lists the procedures done, a number field holds
the amount paid so far, stages mark procedures done — nobody touches the panel — and the
clinic's funnel in money equals, to the kopeck, that of a twin worked in the panel."""

import asyncio
import json
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from backend.domain.roles import Role
from backend.integrations import amocrm as amocrm_adapter
from backend.outbox.worker import handlers, run_once
from backend.runtime.clock import utcnow
from backend.services import crm_reconcile
from backend.store import integrations as integration_store
from backend.store import outbox, referrals
from backend.store.migrations import m0043_amocrm_reconcile_chain as m0043
from backend.store.tables import Outbox
from tests.factories import make_clinic
from tests.fakes import amocrm
from tests.http.crm_twin import (
    PanelTwin,
    assert_the_clinics_plan,
    assert_the_whole_plan_done_and_paid,
    referral_money,
    seconds,
    the_twins_funnel,
    twin_items,
)
from tests.http.integration_client import (
    FORM,
    connect_new_clinic,
    event_count,
    inbox,
    send,
    step_of,
    work,
)
from tests.http.staff_client import make_staff, sign_in

PIPE = 5389528
NEW, BOOKED, CAME, TREATING, ALL_DONE = 47888833, 47888834, 47888835, 47888836, 47888837
VISIT, PAID, DONE = 777001, 777002, 777003
ANSWERS = {"Гигиена": "no", "Удаление": ""}


def stage_map() -> dict:
    return {
        f"{PIPE}:{NEW}": {"kind": "received"},
        f"{PIPE}:{BOOKED}": {"kind": "contacted", "outcome": "booked"},
        f"{PIPE}:{CAME}": {"kind": "visited"},
        f"{PIPE}:{TREATING}": {"kind": "item_done", "items": "listed"},
        f"{PIPE}:{ALL_DONE}": {"kind": "item_done", "items": "all"},
        f"{PIPE}:142": {"kind": "completed"},
        f"{PIPE}:143": {"kind": "closed", "reason": "закрыто в amoCRM"},
    }


@pytest.fixture
def account():
    fake = amocrm.FakeAmoCrm()
    fake.pipelines[PIPE][4:4] = [(TREATING, "Лечение"), (ALL_DONE, "Лечение завершено")]
    fake.define_field(VISIT, "Дата визита", "date_time")
    fake.define_field(PAID, "Оплачено", "numeric")
    fake.define_field(DONE, "Выполнено", "textarea", code="DONE_ROWS")
    with amocrm.running(fake) as running:
        yield running


def config(account, **extra) -> dict:
    return {
        **account.connection(),
        "pipeline_id": str(PIPE),
        "fields": {
            "appointment_at": str(VISIT),
            "paid_amount": str(PAID),
            "done_rows": "DONE_ROWS",
        },
        "stage_map": stage_map(),
        "default_specialization": "surgery",
        **extra,
    }


async def setup(client, account, **extra):
    return await connect_new_clinic(client, config(account, **extra), name="amo-клиника")


class Lead:
    """One lead of the account, worked as a manager works it; each change sent as the
    account's webhook sends a status change."""

    def __init__(self, client, db, account, path: str, lead_id: int) -> None:
        self.client, self.db, self.account, self.path, self.id = client, db, account, path, lead_id

    def made_at(self, at: datetime) -> None:
        self.account.leads[self.id]["created_at"] = self.account.leads[self.id]["updated_at"] = int(
            at.timestamp()
        )

    async def event(self, old_status: int | None = None) -> None:
        lead = self.account.leads[self.id]
        body = self.account.webhook((self.id, old_status or lead["status_id"]))
        answer = await self.client.post(self.path, content=body, headers=FORM)
        assert answer.status_code == 200, answer.text
        await work(self.db)

    async def move(self, status: int, at: datetime, **values: list) -> None:
        old = self.account.move(self.id, status, updated_at=int(at.timestamp()))
        for field_id, given in values.items():
            self.account.set_values(self.id, int(field_id), given, at=int(at.timestamp()))
        await self.event(old)

    async def fill(self, at: datetime, **values: list) -> None:
        for field_id, given in values.items():
            self.account.set_values(self.id, int(field_id), given, at=int(at.timestamp()))
        await self.event()

    async def products(self, items: list[tuple[int, int]], at: datetime) -> None:
        self.account.link(self.id, items, at=int(at.timestamp()))
        await self.event()


def our_lead(account, invite_code: str) -> int:
    (lead,) = [lead for lead in account.leads.values() if invite_code in lead["name"]]
    return lead["id"]


def catalogue(account) -> list[tuple[int, int]]:
    filling = account.add_product("Пломба (зуб 16)", 7000, sku="A16.07.002")
    hygiene = account.add_product("Гигиена", 7500)
    extraction = account.add_product("Удаление зуба 38", 2000, sku="A16.07.001")
    return [(filling, 1), (hygiene, 1), (extraction, 2)]  # two units of 2 000


async def test_an_amocrm_lead_makes_the_same_money_funnel_as_the_panel(client, db, account):
    ex, clinic_id, path = await setup(client, account)
    crm = await send(client, ex, clinic_id, "+79161240001", "Анна Иванова")
    await work(db)
    lead = Lead(client, db, account, path, our_lead(account, crm["invite_code"]))
    twin = PanelTwin(client, await make_clinic("Панель-клиника"))
    panel = await twin.start(ex, "+79161240002", "Анна Петрова")
    crm_manager = await sign_in(client, await make_staff(Role.clinic_manager, clinic_id))

    t0 = seconds(utcnow() - timedelta(hours=5))
    at = [t0 + timedelta(minutes=20 * n) for n in range(12)]
    visit_at = at[2] + timedelta(minutes=10)
    lead.made_at(at[0])

    await lead.event()  # the lead in its first stage: the clinic has it
    await twin.claim({"kind": "received", "occurred_at": at[0]})

    await lead.move(BOOKED, at[1], **{str(VISIT): [int(visit_at.timestamp())]})
    await twin.claim(
        {"kind": "contacted", "outcome": "booked", "appointment_at": visit_at, "occurred_at": at[1]}
    )

    await lead.products(catalogue(account), at[2])
    card = (await client.get(f"/api/v1/exchange/referrals/{crm['id']}", headers=ex)).json()
    assert_the_clinics_plan(card, f"amoCRM, сделка {lead.id} / amoCRM lead {lead.id}")
    await twin.revise(twin_items(await twin.card()), "План клиники", at[2])
    twin_ids = {
        i["title_ru"]: i["item_id"] for p in (await twin.card())["plans"] for i in p["items"]
    }

    await lead.move(CAME, at[3])
    await twin.claim({"kind": "visited", "occurred_at": at[3]})

    await lead.move(TREATING, at[4], **{str(DONE): ["Пломба (зуб 16)"], str(PAID): ["7000"]})
    await twin.claim({"kind": "item_done", "item_id": twin_ids["Пломба"], "occurred_at": at[4]})
    await twin.claim({"kind": "payment", "amount": 7_000_00, "occurred_at": at[4]})

    await lead.fill(at[5], **{str(DONE): ["Пломба (зуб 16); Гигиена"], str(PAID): [14500]})
    await twin.claim({"kind": "item_done", "item_id": twin_ids["Гигиена"], "occurred_at": at[5]})
    await twin.claim({"kind": "payment", "amount": 7_500_00, "occurred_at": at[5]})

    patients = (("+79161240001", crm["invite_code"]), ("+79161240002", panel["invite_code"]))
    half = await the_twins_funnel(client, patients, ANSWERS, crm_manager, twin.manager)
    assert (half["executed_money"], half["paid_money"], half["reserve_money"]) == (
        14_500_00,
        14_500_00,
        4_000_00,
    )

    await lead.move(ALL_DONE, at[6], **{str(PAID): ["18500"]})
    await twin.claim({"kind": "item_done", "item_id": twin_ids["Удаление"], "occurred_at": at[6]})
    await twin.claim({"kind": "payment", "amount": 4_000_00, "occurred_at": at[6]})
    await lead.move(142, at[7])
    await twin.claim({"kind": "completed", "occurred_at": at[7]})
    assert await step_of(client, ex, crm["id"]) == "completed"

    count = await event_count(crm["id"])
    await lead.event()
    for delivery in await inbox(client, ex, clinic_id=str(clinic_id)):
        await client.post(f"/api/v1/exchange/inbox/{delivery['id']}/replay", headers=ex)
    await work(db)
    assert await event_count(crm["id"]) == count

    crm_funnel = await the_twins_funnel(client, patients, ANSWERS, crm_manager, twin.manager)
    assert_the_whole_plan_done_and_paid(crm_funnel)


async def started(client, db, account, phone: str, **extra):
    ex, clinic_id, path = await setup(client, account, **extra)
    sent = await send(client, ex, clinic_id, phone, "Вера Орлова")
    await work(db)
    lead = Lead(client, db, account, path, our_lead(account, sent["invite_code"]))
    t0 = seconds(utcnow() - timedelta(hours=5))
    lead.made_at(t0)
    return ex, sent, lead, t0


async def test_lowered_paid_stale_reads_and_a_removed_product(client, db, account):
    ex, sent, lead, t0 = await started(client, db, account, "+79161240011")
    await lead.products(catalogue(account), t0 + timedelta(minutes=1))
    await lead.fill(t0 + timedelta(minutes=2), **{str(PAID): ["14500"]})
    older = dict(account.leads[lead.id])
    await lead.fill(t0 + timedelta(minutes=3), **{str(PAID): ["9000"]})
    money = await referral_money(client, ex, sent["id"])
    assert money["paid"] == 9_000_00

    # A lagging read shows the lead as it was: nothing is applied over the newer state.
    count = await event_count(sent["id"])
    account.lagging[lead.id] = older
    await lead.event()
    assert await event_count(sent["id"]) == count
    assert await referral_money(client, ex, sent["id"]) == money

    # A product unlinked from the lead leaves the plan.
    first_two = account.linked[lead.id][:2]
    await lead.products(first_two, t0 + timedelta(minutes=4))
    assert (await referral_money(client, ex, sent["id"]))["planned"] == 14_500_00


async def test_an_account_in_another_currency_is_refused_visibly(client, db, account):
    ex, sent, lead, t0 = await started(client, db, account, "+79161240012")
    account.currency = "USD"
    await lead.products(catalogue(account), t0 + timedelta(minutes=1))
    (failed,) = await inbox(client, ex, status="failed")
    assert "USD" in failed["error"] and "RUB" in failed["error"]
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["paid"]) == (14_000_00, 0)


async def test_the_stages_view_shows_the_leads_fields_and_the_products(client, db, account):
    ex, clinic_id, _ = await setup(client, account)
    catalogue(account)
    view = await client.get(f"/api/v1/exchange/clinics/{clinic_id}/integration/stages", headers=ex)
    assert view.status_code == 200, view.text
    body = view.json()
    fields = {f["key"]: (f["name"], f["type"], f["used_as"]) for f in body["fields"]}
    assert fields[str(PAID)] == ("Оплачено", "numeric", "fields.paid_amount")
    assert fields[str(DONE)] == ("Выполнено", "textarea", "fields.done_rows")
    assert body["settings_fields_not_in_crm"] == []
    products = {p["name"]: (p["code"], p["price"]) for p in body["catalog"]}
    assert products["Пломба (зуб 16)"] == ("A16.07.002", 7_000_00)
    assert products["Гигиена"] == ("", 7_500_00)
    assert (body["catalog_total"], body["catalog_truncated"]) == (3, False)


async def test_the_stages_view_says_the_catalogue_is_cut(client, db, account):
    ex, clinic_id, _ = await setup(client, account)
    for n in range(amocrm_adapter.PAGE + 1):
        account.add_product(f"Услуга {n}", 1000 + n, sku=f"S{n:04}")
    view = await client.get(f"/api/v1/exchange/clinics/{clinic_id}/integration/stages", headers=ex)
    assert view.status_code == 200, view.text
    body = view.json()
    assert len(body["catalog"]) == amocrm_adapter.PAGE
    # amoCRM counts nothing: the answer says the list is cut, not how long the rest is.
    assert (body["catalog_total"], body["catalog_truncated"]) == (None, True)


async def test_a_catalogue_of_exactly_one_page_is_whole(client, db, account):
    ex, clinic_id, _ = await setup(client, account)
    for n in range(amocrm_adapter.PAGE):
        account.add_product(f"Услуга {n}", 1000 + n, sku=f"S{n:04}")
    view = await client.get(f"/api/v1/exchange/clinics/{clinic_id}/integration/stages", headers=ex)
    body = view.json()
    assert (body["catalog_total"], body["catalog_truncated"]) == (amocrm_adapter.PAGE, False)


# --- reconcile: a lost webhook is read on the next pass --------------------------------


async def changed_unheard(account, lead: Lead, catalogue_items: list[tuple[int, int]]) -> None:
    """The clinic works the lead now, and none of its webhooks reach plantrack: the
    products, the stage that marks the listed procedures done, and 7 000 paid."""
    now = seconds(utcnow())
    account.link(lead.id, catalogue_items, at=int((now - timedelta(seconds=3)).timestamp()))
    account.move(lead.id, TREATING, updated_at=int((now - timedelta(seconds=2)).timestamp()))
    account.set_values(lead.id, DONE, ["Пломба (зуб 16)"], at=int(now.timestamp()) - 1)
    account.set_values(lead.id, PAID, ["7000"], at=int(now.timestamp()))


async def synced_at(clinic_id) -> datetime | None:
    return (await integration_store.of_clinic(clinic_id)).last_sync_at


def passes(account) -> list[list[str]]:
    """The pages each reconcile pass asked the leads list for, pass by pass."""
    found: list[list[str]] = []
    for query in account.listed:
        page = query["page"][0]
        if page == "1":
            found.append([])
        found[-1].append(page)
    return found


async def clinic_of(referral_id: str) -> UUID:
    return (await referrals.get(UUID(referral_id))).clinic


async def test_a_lost_webhook_is_read_by_the_reconcile_once(client, db, account):
    ex, sent, lead, _t0 = await started(client, db, account, "+79161240021")
    clinic_id = await clinic_of(sent["id"])
    await changed_unheard(account, lead, catalogue(account))
    count = await event_count(sent["id"])
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 0

    later = utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1)
    await work(db, now=later)
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["executed"], money["paid"]) == (18_500_00, 7_000_00, 7_000_00)
    assert await synced_at(clinic_id) == later
    (caught,) = [
        d for d in await inbox(client, ex) if (d["delivery_key"] or "").startswith("reconcile:")
    ]
    assert caught["status"] == "processed" and caught["system"] == "amocrm"
    query = account.listed[-1]
    assert query["with"] == ["catalog_elements"] and query["limit"] == ["250"]
    since = later - crm_reconcile.RECONCILE_EVERY - crm_reconcile.RECONCILE_OVERLAP
    assert abs(int(query["filter[updated_at][from]"][0]) - since.timestamp()) < 60
    recorded = await event_count(sent["id"])
    assert recorded > count

    # The next pass reads the lead again (it is inside the overlap), the webhook turns up
    # late, the reconcile's delivery is replayed: nothing new.
    await work(db, now=later + crm_reconcile.RECONCILE_EVERY)
    await lead.event()
    await client.post(f"/api/v1/exchange/inbox/{caught['id']}/replay", headers=ex)
    await work(db, now=later + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1))
    assert await event_count(sent["id"]) == recorded
    assert await referral_money(client, ex, sent["id"]) == money


async def test_an_outage_during_reconcile_retries_the_pass_from_the_same_time(client, db, account):
    ex, sent, lead, _t0 = await started(client, db, account, "+79161240022")
    clinic_id = await clinic_of(sent["id"])
    await changed_unheard(account, lead, catalogue(account))
    count = await event_count(sent["id"])
    synced = await synced_at(clinic_id)

    # The list is answered, then the account goes down while the lead's money is read.
    account.fail_after = 1
    later = utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1)
    await work(db, now=later)
    assert account.down and account.refused == 1
    assert await event_count(sent["id"]) == count
    assert await synced_at(clinic_id) == synced  # the sync time has not moved
    account.down = False
    for minutes in (2, 5, 30):
        await work(db, now=later + timedelta(minutes=minutes))
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["executed"], money["paid"]) == (18_500_00, 7_000_00, 7_000_00)
    assert await synced_at(clinic_id) > later
    recorded = await event_count(sent["id"])

    # The next passes and a replay of the pass that caught up add nothing.
    await work(db, now=later + 2 * crm_reconcile.RECONCILE_EVERY)
    for delivery in await inbox(client, ex):
        if (delivery["delivery_key"] or "").startswith("reconcile:"):
            await client.post(f"/api/v1/exchange/inbox/{delivery['id']}/replay", headers=ex)
    await work(db, now=later + 3 * crm_reconcile.RECONCILE_EVERY)
    assert await event_count(sent["id"]) == recorded


async def test_a_hung_account_during_reconcile_loses_nothing(client, db, account):
    ex, sent, lead, _t0 = await started(client, db, account, "+79161240023")
    clinic_id = await clinic_of(sent["id"])
    await changed_unheard(account, lead, catalogue(account))
    synced = await synced_at(clinic_id)
    count = await event_count(sent["id"])

    # The leads list is taken and never answered: the pass is cut at the worker's timeout.
    timeout = 0.5
    topics = handlers(None, db.secret_key, vendor_timeout=timeout)
    account.answers_lost.add(("GET", "/api/v4/leads"))
    later = utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1)
    await run_once(topics, worker="w", now=later)
    assert await event_count(sent["id"]) == count
    assert await synced_at(clinic_id) == synced
    account.answers_lost.clear()
    # A host that hung is not called again for one timeout (vendor_http): let it pass.
    await asyncio.sleep(timeout)
    for minutes in (2, 5, 30):
        await run_once(topics, worker="w", now=later + timedelta(minutes=minutes))
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["executed"], money["paid"]) == (18_500_00, 7_000_00, 7_000_00)
    assert await synced_at(clinic_id) > later


async def test_the_reconcile_reads_every_page_and_only_our_leads(client, db, account):
    ex, sent, lead, _t0 = await started(client, db, account, "+79161240024")
    clinic_id = await clinic_of(sent["id"])
    # 300 leads the clinic made itself, changed now, listed before ours (lower ids).
    now = int(utcnow().timestamp())
    for n in range(300):
        account.leads[1000 + n] = {
            "id": 1000 + n,
            "name": f"Звонок {n}",
            "price": 1000,
            "status_id": BOOKED,
            "pipeline_id": PIPE,
            "created_at": now,
            "updated_at": now,
            "custom_fields_values": None,
            "account_id": account.account_id,
            "_embedded": {"tags": [], "contacts": []},
        }
    await changed_unheard(account, lead, catalogue(account))
    account.listed.clear()
    before = len(account.requests)

    later = utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1)
    await work(db, now=later)
    assert passes(account) == [["1", "2"]]
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["executed"], money["paid"]) == (18_500_00, 7_000_00, 7_000_00)
    # Only our lead's money was read: two list pages, the account, the products.
    assert len(account.requests) - before == 4
    (caught,) = [
        d for d in await inbox(client, ex) if (d["delivery_key"] or "").startswith("reconcile:")
    ]
    assert [c["external_id"] for c in caught["result"]["changes"]] == [f"lead:{lead.id}"]

    # A pass after which nothing changed: 204, nothing recorded, the sync time moves.
    count = await event_count(sent["id"])
    quiet = later + 3 * crm_reconcile.RECONCILE_EVERY
    await work(db, now=quiet)
    assert passes(account)[-1] == ["1"]
    assert await event_count(sent["id"]) == count
    assert await synced_at(clinic_id) == quiet


async def test_an_amocrm_clinic_connected_before_the_reconcile_gets_its_first_pass(
    client, db, account
):
    ex, sent, lead, _t0 = await started(client, db, account, "+79161240025")
    clinic_id = await clinic_of(sent["id"])
    integration_id = (await integration_store.of_clinic(clinic_id)).id
    # As before this change: the clinic has no chain of passes.
    await Outbox.delete().where(Outbox.topic == crm_reconcile.RECONCILE)
    await changed_unheard(account, lead, catalogue(account))

    later = utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1)
    assert await m0043.start_chains(later) == 1
    assert await m0043.start_chains(later) == 1  # the same key: still one pass
    chain = [r for r in await outbox.of_topic(crm_reconcile.RECONCILE) if r.status == "pending"]
    payloads = [r.payload for r in chain]
    payloads = [json.loads(p) if isinstance(p, str) else p for p in payloads]
    assert payloads == [{"integration_id": str(integration_id)}]
    await work(db, now=later)
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["executed"], money["paid"]) == (18_500_00, 7_000_00, 7_000_00)
    assert await synced_at(clinic_id) == later

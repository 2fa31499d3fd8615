"""A Bitrix24 clinic's money, end to end over real HTTP: the deal's product rows become the
clinic's plan, a "done rows" field and stages mark procedures done, a money field with
the amount paid so far becomes payments — nobody touches the panel — and the clinic's
funnel in money equals, to the kopeck, that of a twin referral worked in the panel."""

from datetime import datetime, timedelta
from uuid import UUID

import pytest

from backend.domain.roles import Role
from backend.integrations import bitrix24 as bitrix24_adapter
from backend.runtime.clock import utcnow
from backend.services import crm_reconcile
from backend.store import integrations as integration_store
from backend.store import ledger
from tests.factories import make_clinic
from tests.fakes import bitrix24
from tests.fakes.bitrix24 import _status, bitrix_time
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
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in

# Funnel 1 with two stages more: procedures done (those listed), all of them done.
STAGES = {
    **bitrix24.STAGE_MAP,
    "C1:UC_TREATMENT": {"kind": "item_done"},
    "C1:UC_DONE": {"kind": "item_done", "items": "all"},
}
FIELDS = {
    "appointment_at": "UF_CRM_VISIT_AT",
    "paid_amount": "UF_CRM_PAID",
    "done_rows": "UF_CRM_DONE",
}
# What the patient says about each procedure (by a word of the question): a denial, an
# open question, and yes to everything else.
ANSWERS = {"Гигиена": "no", "Удаление": ""}


@pytest.fixture
def portal():
    fake = bitrix24.FakeBitrix24()
    fake.statuses += [
        _status("DEAL_STAGE_1", "C1:UC_TREATMENT", "Лечение по плану", 35, None),
        _status("DEAL_STAGE_1", "C1:UC_DONE", "Все процедуры сделаны", 40, None),
    ]
    fake.user_field("UF_CRM_VISIT_AT", "Дата визита", "datetime")
    fake.user_field("UF_CRM_PAID", "Оплачено", "money")
    fake.user_field("UF_CRM_DONE", "Выполнено", "string", multiple=True)
    with bitrix24.running(fake) as running:
        yield running


def config(portal, **extra) -> dict:
    return {
        **portal.connection(),
        "category_id": 1,
        "fields": FIELDS,
        "stage_map": STAGES,
        "default_specialization": "surgery",
        **extra,
    }


async def setup(client, portal, **extra):
    return await connect_new_clinic(client, config(portal, **extra), name="Битрикс-клиника")


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Deal:
    """One deal of the portal, worked as a clinic's manager works it, each change sent to
    plantrack as the portal's outgoing webhook would send it."""

    def __init__(self, client, db, portal, path: str, deal_id: int) -> None:
        self.client, self.db, self.portal, self.path, self.id = client, db, portal, path, deal_id

    def made_at(self, at: datetime) -> None:
        """The test's timeline starts hours ago: the deal was made then (a portal's clock
        only moves forward, and plantrack holds it to that)."""
        deal = self.portal.deals[self.id]
        deal["DATE_CREATE"] = deal["DATE_MODIFY"] = deal["MOVED_TIME"] = bitrix_time(at)

    async def event(self, name: str = "ONCRMDEALUPDATE") -> None:
        body = self.portal.event(name, self.id)
        answer = await self.client.post(self.path, content=body, headers=FORM)
        assert answer.status_code == 200, answer.text
        await work(self.db)

    async def move(self, stage: str, at: datetime, **fields) -> None:
        self.portal.move(self.id, stage, at=at, **fields)
        await self.event()

    async def update(self, at: datetime, **fields) -> None:
        self.portal.update(self.id, at=at, **fields)
        await self.event()

    async def rows(self, rows: list[dict], at: datetime) -> None:
        self.portal.set_rows(self.id, rows, at=at)
        await self.event()


def the_plan_rows(portal) -> list[dict]:
    filling = portal.add_product("Пломба светоотверждаемая", 7000, code="A16.07.002")
    extraction = portal.add_product("Удаление зуба", 4000, code="A16.07.001")
    return [
        {"name": "Пломба, зуб 16", "price": 7000, "product_id": filling},
        {"name": "Гигиена", "price": 7500},  # a free-text row: no product, no code
        {"name": "Удаление зуба 38", "price": 4000, "product_id": extraction},
    ]


async def test_a_bitrix24_deal_makes_the_same_money_funnel_as_the_panel(client, db, portal):
    ex, clinic_id, path = await setup(client, portal)
    crm = await send(client, ex, clinic_id, "+79161230001", "Анна Иванова")
    await work(db)
    deal = Deal(client, db, portal, path, portal.deal_of(crm["id"]))
    twin = PanelTwin(client, await make_clinic("Панель-клиника"))
    panel = await twin.start(ex, "+79161230002", "Анна Петрова")
    crm_manager = await sign_in(client, await make_staff(Role.clinic_manager, clinic_id))

    # Every step at a time of its own, a few hours ago; the twin gets the same times.
    t0 = seconds(utcnow() - timedelta(hours=5))
    at = [t0 + timedelta(minutes=20 * n) for n in range(12)]
    visit_at = at[2] + timedelta(minutes=10)
    deal.made_at(at[0])

    await deal.event("ONCRMDEALADD")  # the portal echoes our deal: the clinic has it
    received_at = when(portal.deals[deal.id]["MOVED_TIME"])
    await twin.claim({"kind": "received", "occurred_at": received_at})

    await deal.move("C1:PREPARATION", at[1], UF_CRM_VISIT_AT=bitrix_time(visit_at))
    await twin.claim(
        {
            "kind": "contacted",
            "outcome": "booked",
            "appointment_at": visit_at,
            "occurred_at": at[1],
        }
    )

    # The clinic writes its plan into the deal's product rows.
    await deal.rows(the_plan_rows(portal), at[2])
    card = (await client.get(f"/api/v1/exchange/referrals/{crm['id']}", headers=ex)).json()
    assert_the_clinics_plan(card, f"Битрикс24, сделка {deal.id} / Bitrix24 deal {deal.id}")
    await twin.revise(twin_items(await twin.card()), "План клиники", at[2])

    await deal.move("C1:EXECUTING", at[3])
    await twin.claim({"kind": "visited", "occurred_at": at[3]})

    # A stage of treatment: the filling is done and paid.
    await deal.move(
        "C1:UC_TREATMENT", at[4], UF_CRM_DONE=["Пломба, зуб 16"], UF_CRM_PAID="7000|RUB"
    )
    crm_card = (await client.get(f"/api/v1/exchange/referrals/{crm['id']}", headers=ex)).json()
    items = {i["title_ru"]: i for p in crm_card["plans"] for i in p["items"]}
    twin_card = await twin.card()
    twin_ids = {i["title_ru"]: i["item_id"] for p in twin_card["plans"] for i in p["items"]}
    await twin.claim({"kind": "item_done", "item_id": twin_ids["Пломба"], "occurred_at": at[4]})
    await twin.claim({"kind": "payment", "amount": 7_000_00, "occurred_at": at[4]})
    assert items["Пломба"]["item_id"]

    # Hygiene too, and paid so far 14 500.
    await deal.update(at[5], UF_CRM_DONE=["Пломба, зуб 16", "Гигиена"], UF_CRM_PAID="14500|RUB")
    await twin.claim({"kind": "item_done", "item_id": twin_ids["Гигиена"], "occurred_at": at[5]})
    await twin.claim({"kind": "payment", "amount": 7_500_00, "occurred_at": at[5]})

    # Half way: the same funnel, with the extraction still in reserve.
    patients = (("+79161230001", crm["invite_code"]), ("+79161230002", panel["invite_code"]))
    half_crm = await the_twins_funnel(client, patients, ANSWERS, crm_manager, twin.manager)
    assert (half_crm["executed_money"], half_crm["paid_money"]) == (14_500_00, 14_500_00)
    assert half_crm["reserve_money"] == 4_000_00 and half_crm["reserve_count"] == 1

    # The last stage says every remaining procedure is done; then the deal is won.
    await deal.move("C1:UC_DONE", at[6], UF_CRM_PAID="18500|RUB")
    await twin.claim({"kind": "item_done", "item_id": twin_ids["Удаление"], "occurred_at": at[6]})
    await twin.claim({"kind": "payment", "amount": 4_000_00, "occurred_at": at[6]})
    await deal.move("C1:WON", at[7])
    await twin.claim({"kind": "completed", "occurred_at": at[7]})
    assert await step_of(client, ex, crm["id"]) == "completed"

    # Redelivered, replayed and reconciled: nothing new.
    count = await event_count(crm["id"])
    await deal.event()
    for delivery in await inbox(client, ex, clinic_id=str(clinic_id)):
        await client.post(f"/api/v1/exchange/inbox/{delivery['id']}/replay", headers=ex)
    await work(db)
    await work(db, now=utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1))
    assert await event_count(crm["id"]) == count
    assert all(
        d["status"] == "processed" for d in await inbox(client, ex, clinic_id=str(clinic_id))
    )

    crm_funnel = await the_twins_funnel(client, patients, ANSWERS, crm_manager, twin.manager)
    assert_the_whole_plan_done_and_paid(crm_funnel)


async def started(client, db, portal, phone: str, **extra):
    """A referral to a Bitrix24 clinic, its deal made hours ago and booked, its rows the
    plan."""
    ex, clinic_id, path = await setup(client, portal, **extra)
    sent = await send(client, ex, clinic_id, phone, "Вера Орлова")
    await work(db)
    deal = Deal(client, db, portal, path, portal.deal_of(sent["id"]))
    t0 = seconds(utcnow() - timedelta(hours=5))
    deal.made_at(t0)
    return ex, clinic_id, sent, deal, t0


async def test_a_lowered_paid_amount_takes_back_the_last_payments(client, db, portal):
    ex, clinic_id, sent, deal, t0 = await started(client, db, portal, "+79161230011")
    await deal.rows(the_plan_rows(portal), t0 + timedelta(minutes=1))
    await deal.update(t0 + timedelta(minutes=2), UF_CRM_PAID="7000|RUB")
    await deal.update(t0 + timedelta(minutes=3), UF_CRM_PAID="14500|RUB")
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 14_500_00

    # The clinic finds it typed too much: 10 000 paid so far. The last payment (7 500) is
    # taken back and 3 000 paid again, so the ledger's sum is the CRM's.
    before = await event_count(sent["id"])
    await deal.update(t0 + timedelta(minutes=4), UF_CRM_PAID="10000|RUB")
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 10_000_00
    assert await event_count(sent["id"]) == before + 2  # a correction and a payment
    (last,) = await inbox(client, ex, clinic_id=str(clinic_id), limit=1)
    money = last["result"]["changes"][0]["money"]
    assert money["payments"] == [3_000_00] and len(money["corrections"]) == 1

    # Back up to 14 500, then to zero: each state once, whatever is re-sent.
    await deal.update(t0 + timedelta(minutes=5), UF_CRM_PAID="14500|RUB")
    await deal.event()
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 14_500_00
    await deal.update(t0 + timedelta(minutes=6), UF_CRM_PAID="")
    await deal.event()
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 0
    kinds = [e.kind for e in await ledger.events_of(UUID(sent["id"]))]
    # Paid 7 000 and 7 500; 7 500 taken back and 3 000 paid; 4 500 paid; then the three
    # standing (4 500, 3 000, 7 000) taken back: each move once, nothing else.
    assert kinds.count("payment") == 4 and kinds.count("correction") == 4


async def test_an_older_deal_state_read_after_a_newer_one_changes_nothing(client, db, portal):
    ex, clinic_id, sent, deal, t0 = await started(client, db, portal, "+79161230012")
    await deal.rows(the_plan_rows(portal), t0 + timedelta(minutes=1))
    await deal.move(
        "C1:UC_TREATMENT",
        t0 + timedelta(minutes=2),
        UF_CRM_DONE=["Пломба, зуб 16"],
        UF_CRM_PAID="7000|RUB",
    )
    older = dict(portal.deals[deal.id])
    await deal.update(
        t0 + timedelta(minutes=3),
        UF_CRM_DONE=["Пломба, зуб 16", "Гигиена"],
        UF_CRM_PAID="14500|RUB",
    )
    newer = await referral_money(client, ex, sent["id"])
    count = await event_count(sent["id"])

    # The portal answers one read from a lagging copy: the deal as it was a minute before.
    portal.lagging[deal.id] = older
    await deal.event()
    assert await event_count(sent["id"]) == count
    assert await referral_money(client, ex, sent["id"]) == newer
    (last,) = await inbox(client, ex, clinic_id=str(clinic_id), limit=1)
    assert last["result"]["changes"][0]["money"]["status"] == "stale"
    assert last["status"] != "failed"


async def test_rows_as_services_done_and_a_removed_row_is_a_correction(client, db, portal):
    ex, _clinic_id, sent, deal, t0 = await started(
        client, db, portal, "+79161230013", product_rows="done"
    )
    rows = the_plan_rows(portal)
    await deal.rows(rows[:1], t0 + timedelta(minutes=1))  # the filling is done
    money = await referral_money(client, ex, sent["id"])
    # The estimate stays the plan; the filling is done at the row's price.
    assert (money["planned"], money["executed"]) == (14_500_00, 7_000_00)
    await deal.rows(rows, t0 + timedelta(minutes=2))  # hygiene and an extraction too
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["executed"]) == (18_500_00, 18_500_00)

    # The hygiene row was a mistake: removed, its procedure is taken back.
    await deal.rows([rows[0], rows[2]], t0 + timedelta(minutes=3))
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["executed"]) == (18_500_00, 11_000_00)
    count = await event_count(sent["id"])
    await deal.event()
    await deal.rows([rows[0], rows[2]], t0 + timedelta(minutes=4))  # saved again unchanged
    assert await event_count(sent["id"]) == count
    # And added back: done again (a new claim: the first was taken back).
    await deal.rows(rows, t0 + timedelta(minutes=5))
    assert (await referral_money(client, ex, sent["id"]))["executed"] == 18_500_00


async def test_a_row_removed_from_the_plan_drops_its_line(client, db, portal):
    ex, _clinic_id, sent, deal, t0 = await started(client, db, portal, "+79161230014")
    rows = the_plan_rows(portal)
    await deal.rows(rows, t0 + timedelta(minutes=1))
    assert (await referral_money(client, ex, sent["id"]))["planned"] == 18_500_00
    await deal.rows(rows[:2], t0 + timedelta(minutes=2))
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["remaining"]) == (14_500_00, 14_500_00)
    card = (await client.get(f"/api/v1/exchange/referrals/{sent['id']}", headers=ex)).json()
    assert [p["version"] for p in card["plans"]] == [1, 2, 3]


async def test_foreign_currency_is_refused_and_shown_never_guessed(client, db, portal):
    ex, _clinic_id, sent, deal, t0 = await started(client, db, portal, "+79161230015")
    await deal.update(t0 + timedelta(minutes=1), UF_CRM_PAID="100|USD")
    (failed,) = await inbox(client, ex, status="failed")
    assert "USD" in failed["error"] and "RUB" in failed["error"]
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 0
    # Rows of a deal in another currency are not booked either.
    portal.deals[deal.id]["CURRENCY_ID"] = "EUR"
    await deal.rows(the_plan_rows(portal), t0 + timedelta(minutes=2))
    assert (await referral_money(client, ex, sent["id"]))["planned"] == 14_000_00
    errors = [d["error"] for d in await inbox(client, ex, status="failed")]
    assert any("rows are in EUR" in e for e in errors)
    # A money value that is no amount is refused the same way.
    portal.deals[deal.id]["CURRENCY_ID"] = "RUB"
    await deal.update(t0 + timedelta(minutes=3), UF_CRM_PAID="много|RUB")
    assert "not a Bitrix24 money value" in (await inbox(client, ex, status="failed"))[0]["error"]
    # Fixed in the CRM: the next change books it.
    await deal.update(t0 + timedelta(minutes=4), UF_CRM_PAID="5000|RUB")
    money = await referral_money(client, ex, sent["id"])
    assert (money["paid"], money["planned"]) == (5_000_00, 18_500_00)


async def test_an_outage_during_reconcile_loses_and_doubles_nothing(client, db, portal):
    ex, _clinic_id, sent, deal, _t0 = await started(client, db, portal, "+79161230016")
    # The deal changes now, but the portal's events never reach plantrack.
    now = seconds(utcnow())
    portal.set_rows(deal.id, the_plan_rows(portal), at=now - timedelta(seconds=2))
    portal.move(
        deal.id,
        "C1:UC_TREATMENT",
        at=now - timedelta(seconds=1),
        UF_CRM_DONE=["Пломба, зуб 16"],
        UF_CRM_PAID="7000|RUB",
    )
    count = await event_count(sent["id"])
    # The reconcile lists the deal, then the portal goes down while its rows are read.
    portal.fail_after = 1
    later = utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1)
    await work(db, now=later)
    assert portal.down and await event_count(sent["id"]) == count
    portal.down = False
    for minutes in (2, 5, 30):
        await work(db, now=later + timedelta(minutes=minutes))
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["executed"], money["paid"]) == (
        18_500_00,
        7_000_00,
        7_000_00,
    )
    # The next runs, and a replay of the run that caught up, add nothing.
    count = await event_count(sent["id"])
    await work(db, now=later + 2 * crm_reconcile.RECONCILE_EVERY)
    caught = [
        d for d in await inbox(client, ex) if (d["delivery_key"] or "").startswith("reconcile:")
    ]
    for delivery in caught:
        await client.post(f"/api/v1/exchange/inbox/{delivery['id']}/replay", headers=ex)
    await work(db, now=later + 3 * crm_reconcile.RECONCILE_EVERY)
    assert await event_count(sent["id"]) == count


async def test_the_deals_payments_can_be_read_instead_of_a_field(client, db, portal):
    ex, _clinic_id, sent, deal, t0 = await started(
        client,
        db,
        portal,
        "+79161230017",
        read_payments=True,
        fields={"appointment_at": "UF_CRM_VISIT_AT"},
    )
    first = portal.add_payment(deal.id, 7000, at=t0 + timedelta(minutes=1))
    portal.add_payment(deal.id, 7500, paid=False)
    await deal.update(t0 + timedelta(minutes=1))
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 7_000_00
    await deal.event()
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 7_000_00
    # The payment is marked unpaid in the portal: taken back.
    portal.payments[deal.id][0]["paid"] = "N"
    await deal.update(t0 + timedelta(minutes=2))
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 0
    assert first


async def test_the_stages_view_shows_the_fields_and_catalogue_it_reads(client, db, portal):
    ex, clinic_id, _ = await setup(client, portal, fields={**FIELDS, "done_rows": "UF_CRM_GONE"})
    portal.add_product("Пломба светоотверждаемая", 7000, code="A16.07.002")
    view = await client.get(f"/api/v1/exchange/clinics/{clinic_id}/integration/stages", headers=ex)
    assert view.status_code == 200, view.text
    body = view.json()
    fields = {f["key"]: f for f in body["fields"]}
    assert fields["UF_CRM_PAID"]["used_as"] == "fields.paid_amount"
    assert fields["UF_CRM_PAID"]["type"] == "money" and fields["UF_CRM_PAID"]["name"] == "Оплачено"
    assert fields["OPPORTUNITY"]["used_as"] is None
    assert body["settings_fields_not_in_crm"] == ["fields.done_rows: UF_CRM_GONE"]
    (product,) = body["catalog"]
    assert (product["name"], product["code"], product["price"], product["in_price_list"]) == (
        "Пломба светоотверждаемая",
        "A16.07.002",
        7_000_00,
        False,
    )
    stages = {s["key"]: s["maps_to"] for s in body["stages"]}
    assert stages["C1:UC_DONE"] == "item_done/all"
    assert stages["C1:UC_TREATMENT"] == "item_done/listed"
    assert (body["catalog_total"], body["catalog_truncated"]) == (1, False)


async def test_the_stages_view_says_how_many_products_it_does_not_list(client, db, portal):
    ex, clinic_id, _ = await setup(client, portal)
    for n in range(bitrix24_adapter.CATALOG_PAGES * 50 + 7):
        portal.add_product(f"Услуга {n}", 1000 + n, code=f"S{n:04}")
    view = await client.get(f"/api/v1/exchange/clinics/{clinic_id}/integration/stages", headers=ex)
    assert view.status_code == 200, view.text
    body = view.json()
    assert len(body["catalog"]) == 200
    assert (body["catalog_total"], body["catalog_truncated"]) == (207, True)
    assert body["catalog"][-1]["code"] == "S0199"


async def test_the_patient_sees_the_crm_plan_and_is_asked_about_what_it_says_was_done(
    client, db, portal
):
    _ex, _clinic_id, sent, deal, t0 = await started(client, db, portal, "+79161230018")
    await deal.rows(the_plan_rows(portal), t0 + timedelta(minutes=1))
    await deal.move(
        "C1:UC_TREATMENT",
        t0 + timedelta(minutes=2),
        UF_CRM_DONE=["Пломба, зуб 16"],
    )
    patient = await patient_sign_in(client, "+79161230018", sent["invite_code"])
    screen = await client.get(f"/api/v1/me/referrals/{sent['id']}", headers=patient.headers)
    assert screen.status_code == 200, screen.text
    body = screen.json()
    items = {i["title"]: i for stage in body["stages"] for i in stage["items"]}
    assert set(items) == {"Пломба", "Гигиена", "Удаление"}
    assert items["Пломба"]["status"] == "completed" and items["Гигиена"]["status"] != "completed"
    assert body["progress"]["money_done"]["amount"] == 7_000_00
    assert body["progress"]["money_total"]["amount"] == 18_500_00
    changes = {(c["change"], c["title"]) for c in body["plan_comparison"]["changes"]}
    assert changes == {("repriced", "Пломба"), ("added", "Удаление")}
    assert body["plan_comparison"]["reason"].startswith("Битрикс24, сделка")
    questions = [q["text"] for q in body["questions"]]
    assert any("Пломба" in q and "16" in q for q in questions), questions


async def test_a_pass_with_more_deals_than_it_reads_fails_visibly_and_skips_none(
    client, db, portal, monkeypatch
):
    # Fifty deals of ours that come first (older ids) change too (no referral behind them,
    # so the pass reads no money for them)...
    for n in range(50):
        portal.add_deal(ORIGINATOR_ID="plantrack", ORIGIN_ID=f"old-{n}", CATEGORY_ID=1)
    ex, clinic_id, sent, deal, _t0 = await started(client, db, portal, "+79161230019")
    synced = (await integration_store.of_clinic(clinic_id)).last_sync_at
    # ...and our deal's webhooks never arrive.
    now = seconds(utcnow())
    portal.set_rows(deal.id, the_plan_rows(portal), at=now - timedelta(seconds=1))
    portal.update(deal.id, at=now, UF_CRM_PAID="7000|RUB")
    monkeypatch.setattr(bitrix24_adapter, "MAX_PAGES", 1)  # a pass reads 50 deals
    later = utcnow() + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1)
    await work(db, now=later)
    # Not read, and the sync time has not moved past it.
    assert (await referral_money(client, ex, sent["id"]))["paid"] == 0
    assert (await integration_store.of_clinic(clinic_id)).last_sync_at == synced
    monkeypatch.setattr(bitrix24_adapter, "MAX_PAGES", 2)
    await work(db, now=later + crm_reconcile.RECONCILE_EVERY + timedelta(seconds=1))
    money = await referral_money(client, ex, sent["id"])
    assert (money["planned"], money["paid"]) == (18_500_00, 7_000_00)
    assert (await integration_store.of_clinic(clinic_id)).last_sync_at != synced

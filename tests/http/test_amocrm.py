"""An amoCRM clinic, end to end over real HTTP: unsigned form-encoded webhooks (several
leads at once, all strings, Cyrillic) into the app, every lead re-read from a local
fake account over API v4; new referrals become leads there with their contact."""

from datetime import timedelta

import pytest

from backend.integrations import amocrm as amocrm_adapter
from backend.runtime.clock import utcnow
from backend.runtime.secrets_box import unseal
from backend.store import integrations as integration_store
from tests.fakes import amocrm
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

PIPE = 5389528
NEW, BOOKED, CAME = 47888833, 47888834, 47888835
VISIT_FIELD = 777001
OTHER_PIPE = 5400001


def stage_map() -> dict:
    return {
        f"{PIPE}:{NEW}": {"kind": "received"},
        f"{PIPE}:{BOOKED}": {"kind": "contacted", "outcome": "booked"},
        f"{PIPE}:{CAME}": {"kind": "visited"},
        f"{PIPE}:142": {"kind": "completed"},
        f"{PIPE}:143": {"kind": "closed", "reason": "закрыто в amoCRM"},
    }


@pytest.fixture
def account():
    with amocrm.running() as fake:
        yield fake


def config(account, **extra) -> dict:
    return {
        **account.connection(),
        "pipeline_id": str(PIPE),
        "fields": {"appointment_at": str(VISIT_FIELD)},
        "stage_map": stage_map(),
        **extra,
    }


async def setup(client, account, **extra):
    return await connect_new_clinic(client, config(account, **extra))


def lead_of(account, invite_code: str) -> int:
    found = [lead for lead in account.leads.values() if invite_code in lead["name"]]
    assert len(found) == 1, found
    return found[0]["id"]


async def test_two_referrals_go_to_completed_and_closed_through_amocrm(client, db, account):
    ex, clinic_id, path = await setup(client, account)
    anna = await send(client, ex, clinic_id, "+79161234567", "Анна Иванова")
    boris = await send(client, ex, clinic_id, "+79161234571", "Борис Ёлкин")
    await work(db)
    a, b = lead_of(account, anna["invite_code"]), lead_of(account, boris["invite_code"])
    lead = account.leads[a]
    assert lead["pipeline_id"] == PIPE and lead["price"] == 14000
    assert lead["_embedded"]["tags"] == [{"name": "plantrack"}]
    contact = account.contacts[lead["_embedded"]["contacts"][0]["id"]]
    assert contact["first_name"] == "Анна Иванова"
    assert contact["custom_fields_values"][0]["values"] == [
        {"enum_code": "MOB", "value": "+79161234567"}
    ]

    async def deliver(*moves: tuple[int, int]) -> None:
        answer = await client.post(path, content=account.webhook(*moves), headers=FORM)
        assert answer.status_code == 200, answer.text
        await work(db)

    now = utcnow()
    visit_at = int((now - timedelta(days=1)).timestamp())
    # Both booked, in one delivery (amoCRM batches), the visit time in a custom field.
    old_a = account.move(a, BOOKED)
    account.set_field(a, VISIT_FIELD, visit_at)
    old_b = account.move(b, BOOKED)
    account.set_field(b, VISIT_FIELD, visit_at + 3600)
    await deliver((a, old_a), (b, old_b))
    assert await step_of(client, ex, anna["id"]) == "booked"
    assert await step_of(client, ex, boris["id"]) == "booked"
    assert {"confirm_contact", "confirm_booking"} <= await question_kinds(
        client, "+79161234567", anna["invite_code"]
    )

    # Anna comes and finishes; the "came" webhook arrives after the "won" one.
    came = account.move(a, CAME)
    account.move(a, 142)
    await deliver((a, CAME))  # the later delivery first: the lead is read as it is now
    await deliver((a, came))  # the earlier one, late: the same lead, nothing new
    assert await step_of(client, ex, anna["id"]) == "completed"
    assert "confirm_completed" in await question_kinds(client, "+79161234567", anna["invite_code"])

    # Boris's lead is lost: 143 of our pipeline closes it; 143 of another pipeline is
    # a different stage, which the map does not know.
    account.move(b, 143, pipeline_id=OTHER_PIPE)
    await deliver((b, BOOKED))
    assert await step_of(client, ex, boris["id"]) == "booked"
    assert (await inbox(client, ex, status="unmapped"))[0]["result"]["unknown_stages"] == [
        f"{OTHER_PIPE}:143"
    ]
    account.move(b, 143, pipeline_id=PIPE)
    await deliver((b, BOOKED))
    assert await step_of(client, ex, boris["id"]) == "closed"

    # Replaying everything records nothing new.
    counts = (await event_count(anna["id"]), await event_count(boris["id"]))
    for d in await inbox(client, ex, clinic_id=str(clinic_id)):
        await client.post(f"/api/v1/exchange/inbox/{d['id']}/replay", headers=ex)
    await work(db)
    assert (await event_count(anna["id"]), await event_count(boris["id"])) == counts


async def test_wrong_account_and_malformed_webhooks(client, db, account):
    ex, clinic_id, path = await setup(client, account)
    sent = await send(client, ex, clinic_id, "+79161234572", "Вера Ким")
    await work(db)
    lead = lead_of(account, sent["invite_code"])
    old = account.move(lead, BOOKED)

    forged = await client.post(
        path, content=account.webhook((lead, old), account_id=1), headers=FORM
    )
    assert forged.status_code == 403
    garbage = await client.post(path, content=b"\xff\xfe%%%[[", headers=FORM)
    assert garbage.status_code == 403
    assert len(await inbox(client, ex, status="rejected")) == 2
    assert await step_of(client, ex, sent["id"]) == "sent"

    no_id = f"leads[status][0][status_id]={BOOKED}&account[id]={account.account_id}".encode()
    assert (await client.post(path, content=no_id, headers=FORM)).status_code == 200
    await work(db)
    failed = await inbox(client, ex, status="failed")
    assert failed[0]["error"] == "no lead in the delivery" or "numeric id" in failed[0]["error"]

    # A booking stage with the visit time missing is refused with a reason, and shown.
    await client.post(path, content=account.webhook((lead, old)), headers=FORM)
    await work(db)
    failed = await inbox(client, ex, status="failed")
    assert "appointment_at" in failed[0]["error"]


async def test_oauth_token_is_refreshed_once_and_kept(client, db, account):
    account.refresh_token = "amo-refresh-0"
    stale = {"access_token": "expired-token-000", "refresh_token": "amo-refresh-0"}
    ex, clinic_id, _ = await setup(
        client,
        account,
        **stale,
        client_id=account.client_id,
        client_secret=account.client_secret,
        redirect_uri="https://plantrack.example.org/oauth/amocrm",
    )
    sent = await send(client, ex, clinic_id, "+79161234573", "Глеб Орлов")
    await work(db)
    lead_of(account, sent["invite_code"])
    row = await integration_store.of_clinic(clinic_id)
    secrets = unseal(db.secret_key, row.secrets)
    assert secrets["access_token"] == account.access_token != "expired-token-000"
    assert secrets["refresh_token"] == account.refresh_token != "amo-refresh-0"
    assert ("POST", "/oauth2/access_token") in account.requests


async def test_seven_requests_a_second_are_kept_and_429_is_waited_out(client, db, account):
    ex, clinic_id, _ = await setup(client, account)
    # Ten referrals at once: twenty API calls, paced under the account's 7 a second.
    sent = [await send(client, ex, clinic_id, f"+7916123460{n}", f"Пациент {n}") for n in range(10)]
    await work(db)
    assert account.limited == 0
    for s in sent:
        lead_of(account, s["invite_code"])

    # A busy account answers 429 with retry_after: the push waits and goes once.
    account.throttle_next = 3
    late = await send(client, ex, clinic_id, "+79161234620", "Пациент поздний")
    await work(db)
    assert account.limited == 1 and late["invite_code"] not in str(account.leads)
    for seconds in (2, 30, 120, 600):
        await work(db, now=utcnow() + timedelta(seconds=seconds))
    assert account.limited == 3
    lead_of(account, late["invite_code"])  # exactly once, despite the retries


async def test_requests_held_up_on_their_way_still_arrive_a_sixth_of_a_second_apart(
    client, db, account
):
    ex, clinic_id, _ = await setup(client, account)
    sent = [await send(client, ex, clinic_id, f"+7916123470{n}", f"Пациент {n}") for n in range(8)]
    # Every seventh request is held up a third of a second before amoCRM counts it (a busy
    # CPU, the network): the next must still not leave until 1/6 s after its answer, or
    # it lands right behind it and a run of such puts eight in one second.
    account.hold_next = [0.35, 0, 0, 0, 0, 0, 0] * 4
    account.arrivals.clear()
    await work(db)
    for s in sent:
        lead_of(account, s["invite_code"])
    gaps = [b - a for a, b in zip(account.arrivals, account.arrivals[1:], strict=False)]
    assert len(gaps) >= 16 and account.limited == 0
    assert min(gaps) >= amocrm_adapter.GAP - 1e-6


async def test_the_pipelines_statuses_are_shown_beside_the_map(client, db, account):
    ex, clinic_id, _ = await setup(client, account)
    url = f"/api/v1/exchange/clinics/{clinic_id}/integration/stages"
    answer = await client.get(url, headers=ex)
    assert answer.status_code == 200, answer.text
    stages = {s["key"]: (s["semantics"], s["maps_to"]) for s in answer.json()["stages"]}
    assert stages == {
        f"{PIPE}:47888830": ("process", None),
        f"{PIPE}:{NEW}": ("process", "received"),
        f"{PIPE}:{BOOKED}": ("process", "contacted/booked"),
        f"{PIPE}:{CAME}": ("process", "visited"),
        f"{PIPE}:142": ("success", "completed"),
        f"{PIPE}:143": ("failure", "closed"),
    }
    # A map naming a pipeline the account does not have: its keys are pointed out.
    await connect(
        client,
        ex,
        clinic_id,
        config(account, stage_map={**stage_map(), f"{OTHER_PIPE}:142": {"kind": "completed"}}),
    )
    assert (await client.get(url, headers=ex)).json()["map_keys_not_in_crm"] == [
        f"{OTHER_PIPE}:142"
    ]
    account.access_token = "revoked"
    refused = await client.get(url, headers=ex)
    assert refused.status_code == 502 and "refused" in refused.json()["detail"]

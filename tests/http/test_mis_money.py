"""What a real MIS sends beyond claims: the clinic's plan as it holds it (a plan version
through the panel's plan-revision door) and a cancelled procedure (the claim that it was
done taken back) — signed Standard Webhooks over HTTP, each recorded once."""

from datetime import timedelta

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
    work,
)
from tests.http.staff_client import make_staff, sign_in
from tests.http.test_mis_webhooks import event, setup, signed


async def test_a_plan_from_the_mis_is_a_revision_and_a_cancelled_procedure_a_correction(client, db):
    ex, clinic_id, path, secret = await setup(client)
    phone = "+79161250001"
    sent = await send(client, ex, clinic_id, phone, "Анна Иванова")
    rid = sent["id"]
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    estimate = {i["title_ru"]: i["item_id"] for i in card["plans"][0]["items"]}

    async def post(kind: str, *, msg_id: str | None = None, **data) -> int:
        body, headers = signed(secret, event(kind, rid, **data), msg_id=msg_id)
        answer = await client.post(path, content=body, headers=headers)
        assert answer.status_code in (200, 202), answer.text
        await work(db)
        return answer.status_code

    planned_at = utcnow() - timedelta(hours=3)
    plan = {
        "reason": "План после осмотра: пломба дороже, добавлено удаление 38",
        "occurred_at": planned_at.isoformat(),
        "items": [
            {
                "item_id": estimate["Пломба"],
                "specialization": "therapy",
                "price": 7_000_00,
                "title_ru": "Пломба",
                "tooth": 16,
            },
            {
                "specialization": "surgery",
                "price": 4_000_00,
                "title_ru": "Удаление зуба",
                "code": "A16.07.001",
                "tooth": 38,
            },
        ],
    }
    assert await post("plan.revised", msg_id="mis-plan-1", **plan) == 202
    assert await post("plan.revised", msg_id="mis-plan-1", **plan) == 200  # a retry
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    assert [p["version"] for p in card["plans"]] == [1, 2]
    (actual,) = [p for p in card["plans"] if p["origin"] == "actual"]
    assert actual["reason"] == plan["reason"]
    assert card["money"]["planned"] == 11_000_00
    extraction = next(i["item_id"] for i in actual["items"] if i["tooth"] == 38)

    await post(
        "item.done", item_id=extraction, occurred_at=(planned_at + timedelta(hours=1)).isoformat()
    )
    assert "confirm_item" in await question_kinds(client, phone, sent["invite_code"])
    assert (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()["money"][
        "executed"
    ] == 4_000_00

    # The MIS cancels the procedure (a storno): not done after all; the question goes.
    count = await event_count(rid)
    await post(
        "item.cancelled",
        msg_id="mis-storno-1",
        item_id=extraction,
        reason="Процедура отменена в наряде",
        occurred_at=(planned_at + timedelta(hours=2)).isoformat(),
    )
    await post("item.cancelled", msg_id="mis-storno-1", item_id=extraction)  # a retry
    assert await event_count(rid) == count + 1
    money = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()["money"]
    assert money["executed"] == 0 and money["remaining"] == 11_000_00
    assert "confirm_item" not in await question_kinds(client, phone, sent["invite_code"])

    # Cancelling what was never reported done is kept and shown as failed.
    await post("item.cancelled", item_id=estimate["Пломба"])
    (failed,) = await inbox(client, ex, status="failed")
    assert "not reported done" in failed["error"]

    # A plan naming an item of no plan of this referral is refused the same way.
    await post(
        "plan.revised",
        reason="ошибка",
        items=[
            {
                "item_id": "0b8e6a4e-2f0c-4d1e-9a51-6c1f3e7b2a90",
                "specialization": "therapy",
                "price": 1_00,
            }
        ],
    )
    assert len(await inbox(client, ex, status="failed")) == 2
    card = (await client.get(f"/api/v1/exchange/referrals/{rid}", headers=ex)).json()
    assert [p["version"] for p in card["plans"]] == [1, 2]


async def test_idents_timetable_tells_that_ident_is_exchanging_and_keeps_nothing(client, db):
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    clinic_id = await make_clinic()
    configured = await connect(client, operator.headers, clinic_id, {"system": "ident"})
    key, base = configured["integration_key"], inbound_path(configured)
    assert configured["integration"]["last_sync_at"] is None

    wrong = await client.post(
        f"{base}/PostTimeTable", json={}, headers={"IDENT-Integration-Key": "nope"}
    )
    assert wrong.status_code == 401
    clinic = await client.get(f"/api/v1/exchange/clinics/{clinic_id}", headers=operator.headers)
    assert clinic.json()["integration"]["last_sync_at"] is None

    posted = await client.post(
        f"{base}/PostTimeTable",
        json={"Doctors": [], "Branches": [], "Intervals": []},
        headers={"IDENT-Integration-Key": key},
    )
    assert posted.status_code == 200
    clinic = await client.get(f"/api/v1/exchange/clinics/{clinic_id}", headers=operator.headers)
    assert clinic.json()["integration"]["last_sync_at"] is not None

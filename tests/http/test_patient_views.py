"""Details of what the patient app is shown: paging, the plan comparison, languages."""

from datetime import timedelta

from backend.domain.events import Source
from backend.runtime.clock import utcnow
from backend.services.referrals import PlanIn, PlanItemIn, revise_plan
from backend.store import plans
from tests.factories import make_clinic, make_referral
from tests.http.patient_client import sign_in

PHONE = "+79161234567"


async def test_referrals_page_by_cursor_newest_first(client, db):
    clinic = await make_clinic()
    now = utcnow()
    ids = [
        (await make_referral(clinic, phone=PHONE, at=now - timedelta(days=d))).referral_id
        for d in (3, 2, 1)
    ]
    me = await sign_in(client, PHONE)
    first = (await client.get("/api/v1/me/referrals?limit=2", headers=me.headers)).json()
    assert [r["id"] for r in first["items"]] == [str(ids[2]), str(ids[1])]
    assert first["next_cursor"]
    second = (
        await client.get(
            f"/api/v1/me/referrals?limit=2&cursor={first['next_cursor']}", headers=me.headers
        )
    ).json()
    assert [r["id"] for r in second["items"]] == [str(ids[0])]
    assert second["next_cursor"] is None
    bad = await client.get("/api/v1/me/referrals?cursor=%%%", headers=me.headers)
    assert bad.status_code == 400
    too_many = await client.get("/api/v1/me/referrals?limit=1000", headers=me.headers)
    assert too_many.status_code == 400


async def test_plan_comparison_explains_the_clinics_changes(client, db):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE, at=utcnow() - timedelta(days=1))
    estimate = await plans.items_of((await plans.versions_of(sent.referral_id))[0].id)
    filling, implant = estimate
    await revise_plan(
        sent.referral_id,
        PlanIn(
            items=[
                PlanItemIn(
                    item_id=filling.item_id,
                    specialization="therapy",
                    price=7_000_00,
                    title_ru=filling.title_ru,
                    title_en=filling.title_en,
                    tooth=16,
                ),
                PlanItemIn(
                    specialization="hygiene",
                    price=7_500_00,
                    title_ru="Гигиена",
                    title_en="Cleaning",
                ),
            ]
        ),
        reason="Имплантацию отложили: нужна гигиена",
        source=Source.clinic_panel,
        actor="staff:test",
    )
    me = await sign_in(client, PHONE)
    screen = (
        await client.get(f"/api/v1/me/referrals/{sent.referral_id}", headers=me.headers)
    ).json()
    comparison = screen["plan_comparison"]
    assert comparison["estimated_total"]["amount"] == 71_500_00
    assert comparison["actual_total"]["amount"] == 14_500_00
    assert comparison["difference"]["amount"] == -57_000_00
    assert comparison["summary"] == "План клиники дешевле предварительного на 57\u00a0000\u00a0₽"
    assert comparison["reason"] == "Имплантацию отложили: нужна гигиена"
    changes = {(c["change"], c["title"]) for c in comparison["changes"]}
    assert changes == {
        ("added", "Гигиена"),
        ("dropped", "Имплант"),
        ("repriced", "Лечение кариеса"),
    }
    # The screen follows the clinic's plan now.
    assert screen["progress"]["money_total"]["amount"] == 14_500_00
    assert implant.item_id not in {i["item_id"] for st in screen["stages"] for i in st["items"]}


async def test_the_patients_language_is_used_everywhere(client, db):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE, at=utcnow() - timedelta(hours=1))
    me = await sign_in(client, PHONE)
    ru = (await client.get(f"/api/v1/me/referrals/{sent.referral_id}", headers=me.headers)).json()
    assert ru["step_label"] == "Направление отправлено в клинику"
    assert ru["progress"]["money_total"]["formatted"] == "71\u00a0500\u00a0₽"
    await client.patch("/api/v1/me", headers=me.headers, json={"locale": "en"})
    en = (await client.get(f"/api/v1/me/referrals/{sent.referral_id}", headers=me.headers)).json()
    assert en["step_label"] == "Referral sent to the clinic"
    assert en["stages"][0]["items"][0]["title"] == "Caries treatment"
    svg = await client.get(
        f"/api/v1/me/referrals/{sent.referral_id}/teeth.svg?phase=before", headers=me.headers
    )
    assert "Your teeth before treatment" in svg.text
    unknown_field = await client.patch("/api/v1/me", headers=me.headers, json={"phone": "+7000"})
    assert unknown_field.status_code == 400

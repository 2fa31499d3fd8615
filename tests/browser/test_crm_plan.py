"""What the clinic's coordinator sees of a plan its Bitrix24 made: a real portal (the local
fake) posts its events to the real server, the worker reads the deal's rows, done field
and paid amount, and the referral card in Chromium shows the CRM's plan beside the
estimate, the procedure done and the money — nobody touched the panel."""

import re
from datetime import timedelta
from urllib.parse import urlparse

import httpx
from playwright.async_api import expect

from backend.domain.events import Source
from backend.domain.integration_settings import Bitrix24In
from backend.domain.roles import Role
from backend.ops.demo import DEMO_PASSWORD
from backend.runtime.clock import utcnow
from backend.services import integration_setup
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, send_referral
from backend.services.staff import add_staff
from tests.browser.conftest import shot
from tests.browser.test_admin import sign_in
from tests.factories import make_clinic
from tests.fakes import bitrix24
from tests.fakes.bitrix24 import bitrix_time
from tests.http.integration_client import FORM, work


async def test_the_referral_card_shows_the_plan_a_bitrix24_deal_made(live_server, browser, db):
    with bitrix24.running() as portal:
        clinic_id = await make_clinic("Улыбка-Битрикс")
        configured = await integration_setup.configure(
            clinic_id,
            Bitrix24In(
                rest_url=portal.rest_url,
                application_token=portal.application_token,
                member_id=portal.member_id,
                category_id=1,
                stage_map={"C1:NEW": {"kind": "received"}, "C1:EXECUTING": {"kind": "visited"}},
                fields={"paid_amount": "UF_CRM_PAID", "done_rows": "UF_CRM_DONE"},
            ),
            secret_key=db.secret_key,
            public_url=live_server,
        )
        path = urlparse(configured.integration.inbound_url).path
        await add_staff(
            email="coordinator@crm.example",
            role=Role.clinic_coordinator,
            password=DEMO_PASSWORD,
            clinic_id=clinic_id,
        )
        sent = await send_referral(
            patient=PatientIn(phone="+79160007788", name="Ирина Битриксова"),
            clinic_id=clinic_id,
            plan=PlanIn(
                items=[
                    PlanItemIn(
                        specialization="therapy", price=6_500_00, title_ru="Пломба", tooth=16
                    ),
                    PlanItemIn(specialization="hygiene", price=7_500_00, title_ru="Гигиена"),
                ]
            ),
            source=Source.exchange,
            actor="test",
        )
        await work(db)
        (deal,) = portal.deals.values()
        deal_id = int(deal["ID"])
        t0 = utcnow().replace(microsecond=0) - timedelta(hours=2)
        deal["DATE_CREATE"] = deal["DATE_MODIFY"] = deal["MOVED_TIME"] = bitrix_time(t0)
        extraction = portal.add_product("Удаление зуба", 4000, code="A16.07.001")
        portal.set_rows(
            deal_id,
            [
                {"name": "Пломба, зуб 16", "price": 7000},
                {"name": "Гигиена", "price": 7500},
                {"name": "Удаление зуба 38", "price": 4000, "product_id": extraction},
            ],
            at=t0 + timedelta(minutes=30),
        )
        portal.move(
            deal_id,
            "C1:EXECUTING",
            at=t0 + timedelta(minutes=60),
            UF_CRM_DONE=["Пломба, зуб 16"],
            UF_CRM_PAID="7000|RUB",
        )
        async with httpx.AsyncClient(base_url=live_server) as http:
            posted = await http.post(
                path, content=portal.event("ONCRMDEALUPDATE", deal_id), headers=FORM
            )
            assert posted.status_code == 200, posted.text
        await work(db)

    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(page, live_server, "coordinator@crm.example")
    await page.goto(f"{live_server}/admin/referrals/{sent.referral_id}")
    await expect(page.locator("#step")).to_have_text("Лечится")
    await expect(page.get_by_text(f"Битрикс24, сделка {deal_id}")).to_be_visible()
    await expect(page.locator("#planned")).to_contain_text("18")
    await expect(page.locator("#executed")).to_contain_text("7")
    await expect(page.get_by_role("cell", name=re.compile(r"^Удаление 38$"))).to_be_visible()
    await shot(page, "crm-plan-referral")

"""The exchange's desk pages in a real browser: connect a clinic's Bitrix24 (a local fake
portal), see a delivery land unmapped in the inbox, read the CRM's live stages, fix the
stage map, replay the delivery; write a price list, import a plan from an analysis,
attach a picture to the new referral."""

import io
import json
import re
from urllib.parse import urlparse

import httpx
from PIL import Image
from playwright.async_api import expect

from backend.domain.events import Source
from backend.ops.demo import demo_id, load_demo
from backend.outbox.worker import handlers, run_once
from backend.routes import staff_examples as sex
from backend.runtime.clock import utcnow
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, send_referral
from backend.store.tables import Media
from tests.browser.conftest import shot
from tests.browser.test_admin import sign_in
from tests.fakes import bitrix24

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def work(db) -> None:
    topics = handlers(None, db.secret_key)
    for _ in range(6):
        if await run_once(topics, worker="desk-test", now=utcnow()) == 0:
            break


async def test_the_exchanges_desk_pages(live_server, browser, db, tmp_path):
    await load_demo(referrals_count=3, now=utcnow())
    clinic_id = demo_id("clinic", 2)
    base = live_server
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(page, base, "operator@plantrack.demo")

    with bitrix24.running() as portal:
        # Connect the clinic's Bitrix24 from the desk.
        await page.get_by_role("link", name="Интеграции").click()
        await page.locator("#integrations a", has_text="Сибирская").click()
        body = {
            "system": "bitrix24",
            "rest_url": portal.rest_url,
            "application_token": portal.application_token,
            "category_id": 1,
            "stage_map": {"C1:NEW": {"kind": "received"}},
        }
        await page.get_by_label("JSON").fill(json.dumps(body))
        await page.get_by_role("button", name="Подключить / сохранить").click()
        await expect(page.get_by_role("status")).to_have_text("Сохранено.")
        inbound = urlparse(await page.locator("#inbound-url").inner_text()).path

        # A referral goes out as a deal; the clinic moves it to a stage the map lacks.
        sent = await send_referral(
            patient=PatientIn(phone="+79160009901", name="Ирина Сделкина"),
            clinic_id=clinic_id,
            plan=PlanIn(items=[PlanItemIn(specialization="therapy", price=3_000_00)]),
            source=Source.exchange,
            actor="test",
        )
        await work(db)
        [deal_id] = [int(d["ID"]) for d in portal.deals.values()]
        portal.move(deal_id, "C1:EXECUTING")
        async with httpx.AsyncClient(base_url=base) as http:
            answer = await http.post(
                inbound, content=portal.event("ONCRMDEALUPDATE", deal_id), headers=FORM
            )
            assert answer.status_code == 200, answer.text
        await work(db)

        # The inbox shows it unmapped; the CRM's own stages say which one.
        await page.get_by_role("link", name="Входящие из CRM").click()
        row = page.locator("#inbox tbody tr").first
        await expect(row).to_contain_text("unmapped")
        await shot(page, "exchange-inbox", full_page=False)
        delivery_href = await row.locator("a").first.get_attribute("href")
        for n in range(200 + 3):
            portal.add_product(f"Услуга {n}", 1000 + n, code=f"S{n:04}")
        await page.goto(f"{base}/admin/integrations/{clinic_id}?stages=1")
        executing = page.locator("#crm-stages tr", has_text="C1:EXECUTING")
        await expect(executing).to_contain_text("не сопоставлен")
        # The catalogue is longer than the page lists: the page says so.
        await expect(page.locator("#catalog-count")).to_have_text(
            "Показаны первые 200 из 203 товаров каталога; остальные здесь не видны."
        )
        await shot(page, "exchange-integration")

        # Fix the map (the stored keys are kept), replay the delivery: processed.
        stage_map = {"C1:NEW": {"kind": "received"}, "C1:EXECUTING": {"kind": "visited"}}
        await page.get_by_label("Карта этапов (JSON)").fill(json.dumps(stage_map))
        await page.get_by_role("button", name="Сохранить", exact=True).click()
        await expect(page.get_by_role("status")).to_have_text("Сохранено.")
        await page.goto(base + delivery_href)
        await page.get_by_role("button", name="Обработать снова").click()
        await expect(page.get_by_role("status")).to_have_text("Записано.")
        await work(db)
        await page.reload()
        await expect(page.locator("#status")).to_have_text("processed")
        await page.goto(f"{base}/admin/referrals/{sent.referral_id}")
        await expect(page.locator("#step")).to_have_text("Был на приёме")

    # A price list, then a plan imported from an analysis, priced by it.
    await page.get_by_role("link", name="Прайс-листы").click()
    await page.get_by_label("JSON").fill(json.dumps(sex.PRICES_IN, ensure_ascii=False))
    await page.get_by_role("button", name="Сохранить").click()
    await expect(page.get_by_role("status")).to_have_text("Сохранено.")
    await expect(page.locator("#prices")).to_contain_text("A16.07.054")
    analysis = {
        **sex.IMPORT_IN,
        "clinic_id": str(clinic_id),
        "patient": {"phone": "+79160009902", "name": "Пётр Импортов"},
    }
    await page.get_by_role("link", name="Импорт плана").click()
    await page.get_by_label("Анализ снимков (JSON)").fill(json.dumps(analysis, ensure_ascii=False))
    await page.get_by_role("button", name="Предпросмотр").click()
    await expect(page.locator("#preview")).to_contain_text("Установка импланта")
    await shot(page, "exchange-import")
    await page.get_by_role("button", name="Отправить направление").click()
    await expect(page).to_have_url(re.compile(r"/admin/referrals/[0-9a-f-]+\?msg=saved"))
    await expect(page.locator("h1")).to_contain_text("Пётр Импортов")

    # A picture for the new referral.
    picture = tmp_path / "xray.png"
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 40, 40)).save(out, format="PNG")
    picture.write_bytes(out.getvalue())
    await page.locator("#pictures-link").click()
    form = page.locator("#picture-form")
    await form.locator("input[type=file]").set_input_files(str(picture))
    await form.locator("select[name=kind]").select_option("xray")
    await form.locator("input[name=tooth]").fill("36")
    await form.get_by_role("button", name="Загрузить").click()
    await expect(page.get_by_role("status")).to_have_text("Сохранено.")
    assert await Media.count().where(Media.tooth == 36) == 1

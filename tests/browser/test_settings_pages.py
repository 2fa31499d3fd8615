"""The settings pages in a real browser (issue 20): a clinic's manager sets its hours,
holidays, sender name and a duration norm; the exchange's operator sets the clinic's
SLA; the reports are restated; and the funnel page shows losses and revisions by
reason per clinic."""

import asyncio
import re
from datetime import timedelta
from pathlib import Path

from playwright.async_api import expect

from backend.ops.demo import demo_id, load_demo
from backend.outbox.worker import handlers, run_once
from backend.runtime.clock import utcnow
from backend.store import desk
from tests.browser.conftest import shot
from tests.browser.test_admin import keep, sign_in


async def restate_now() -> None:
    while await run_once(handlers(None), worker="test", now=utcnow()):
        pass


async def test_a_manager_and_the_operator_change_a_clinics_settings(live_server, browser, db):
    await load_demo(referrals_count=30, now=utcnow())
    clinic_id = demo_id("clinic", 0)
    base = live_server
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    manager = await ctx.new_page()
    await sign_in(manager, base, "manager1@plantrack.demo")
    await manager.get_by_role("link", name="Настройки").click()
    await expect(manager.get_by_role("heading", level=1)).to_have_text(re.compile("^Настройки · "))

    form = manager.locator("#settings-form")
    await form.get_by_label("Открытие").fill("10:00")
    await form.get_by_label("Закрытие").fill("18:00")
    await form.get_by_label("Сб").uncheck()
    await form.get_by_label(re.compile("Праздники")).fill("2027-01-01\n2027-01-02")
    await form.get_by_label("Имя отправителя SMS").fill("Ulybka")
    # The SLA is the exchange's term: shown, not editable here.
    await expect(form.locator("#terms input")).to_have_count(0)
    await form.get_by_role("button", name="Сохранить").click()
    await expect(manager.locator(".flash.ok").first).to_be_visible()
    await expect(manager.locator("#restatement")).to_contain_text("пересчитываются")

    norms = manager.locator("#norms-form")
    row = norms.locator("tr[data-specialization=implantology]")
    await row.get_by_label("Минут в кресле").fill("480")
    await row.get_by_label("Дней курса").fill("120")
    await norms.get_by_role("button", name="Сохранить нормы").click()
    await expect(row.locator(".badge")).to_have_text("клиникой")

    await restate_now()
    await manager.reload()
    await expect(manager.locator("#restatement")).to_contain_text("пересчитаны")
    await expect(form.get_by_label("Сб")).not_to_be_checked()
    keep(await shot(manager, "clinic-settings", full_page=False), "clinic-settings")

    entries = await desk.audit_entries(limit=10, object_id=str(clinic_id))
    changes = [e.action for e in entries if e.action.startswith("change_")]
    assert changes == ["change_norms", "change_settings"]

    # A bad sender name is refused with the reason, nothing saved.
    await form.get_by_label("Имя отправителя SMS").fill("Улыбка")
    await manager.evaluate("document.querySelector('#settings-form').noValidate = true")
    await form.get_by_role("button", name="Сохранить").click()
    await expect(manager.locator(".flash.err")).to_contain_text("sender_name")

    # The operator gives the clinic three working hours to call.
    op_ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    operator = await op_ctx.new_page()
    await sign_in(operator, base, "operator@plantrack.demo")
    await operator.goto(f"{base}/admin/settings")
    await operator.goto(f"{base}/admin/clinics/{clinic_id}/settings")
    terms = operator.locator("#terms")
    await terms.get_by_label(re.compile("Срок первого звонка")).fill("180")
    await operator.locator("#settings-form").get_by_role("button", name="Сохранить").click()
    await expect(terms.get_by_label(re.compile("Срок первого звонка"))).to_have_value("180")
    await shot(operator, "exchange-clinic-settings")

    # The exchange's funnel page: losses and plan revisions by reason, per clinic.
    first = (utcnow() - timedelta(days=180)).date().isoformat()
    await operator.goto(f"{base}/admin/funnel?first={first}")
    reasons = operator.locator("#reasons tbody tr")
    await expect(reasons.first).to_have_attribute("data-kind", "lost")
    await operator.locator("#reasons").scroll_into_view_if_needed()
    await shot(operator, "exchange-funnel-reasons")


async def test_the_conversion_page_with_its_forecast(live_server, browser, db):
    now = utcnow()
    await load_demo(referrals_count=60, now=now)
    base = live_server
    first = (now - timedelta(days=150)).date().isoformat()
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    manager = await ctx.new_page()
    await sign_in(manager, base, "manager1@plantrack.demo")
    await manager.get_by_role("link", name="Конверсия").click()
    await manager.goto(f"{base}/admin/conversion?first={first}")
    await expect(manager.locator("#conversion-chart svg .conv-bar")).to_have_count(6)
    total = manager.locator("#conversion tbody tr.total")
    sent = int(await total.locator("td[data-step=sent]").inner_text())
    assert sent > 0
    await expect(manager.locator("#conversion tbody tr")).not_to_have_count(1)  # coordinators
    await shot(manager, "clinic-conversion")
    # The same figures as a download.
    async with manager.expect_download() as download:
        await manager.locator("#csv").click()
    path = await (await download.value).path()
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("group,label,step,reached")
    assert lines[1] == f"total,,sent,{sent},{sent},,100.0,{float(sent)}"

    op_ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    operator = await op_ctx.new_page()
    await sign_in(operator, base, "operator@plantrack.demo")
    await operator.goto(f"{base}/admin/conversion?first={first}&by=clinic")
    await expect(operator.locator("#conversion tbody tr")).to_have_count(4)  # total + 3 clinics
    keep(await shot(operator, "exchange-conversion", full_page=False), "exchange-conversion")

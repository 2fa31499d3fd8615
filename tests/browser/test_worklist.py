"""The coordinator's day in a real browser, from the alert to the outcome: an e-mail
reaches a real SMTP server, its link opens the worklist at that referral, one click
books the patient, the referral leaves the list and its call history says so; a call
that did not get through becomes a call-back for later."""

import re
from datetime import timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from backend.domain.events import Source
from backend.messages.email import SmtpMailer
from backend.ops.demo import demo_id, load_demo
from backend.outbox.worker import handlers, run_once
from backend.runtime.clock import utcnow
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, send_referral
from backend.services.staff_alerts import Channels
from backend.store import parties
from tests.browser.conftest import shot
from tests.browser.test_admin import keep, sign_in
from tests.mail_server import smtp_server


async def deliver_alerts(db, url: str, public_url: str) -> None:
    """Run the worker as if a day had passed, so alerts held for the night or for working
    hours go out whatever the hour of the test."""
    topics = handlers(
        None,
        db.secret_key,
        Channels(public_url=public_url, secret_key=db.secret_key, mailer=SmtpMailer(url, "t@x")),
    )
    for _ in range(12):
        if await run_once(topics, worker="browser-test", now=utcnow() + timedelta(days=1)) == 0:
            break


async def send(clinic_id, phone: str, name: str, hours_ago: float):
    at = utcnow() - timedelta(hours=hours_ago)
    return await send_referral(
        patient=PatientIn(phone=phone, name=name),
        clinic_id=clinic_id,
        plan=PlanIn(
            items=[PlanItemIn(specialization="therapy", price=5_000_00, title_ru="Пломба")]
        ),
        source=Source.exchange,
        actor="test",
        sent_at=at,
        now=at,
    )


async def test_from_the_alert_to_the_outcome(live_server, browser, db):
    await load_demo(referrals_count=6, now=utcnow())
    clinic_id = demo_id("clinic", 0)
    clinic = await parties.clinic(clinic_id)
    first = await send(clinic_id, "+79160007701", "Вера Звонкова", hours_ago=0.2)
    second = await send(clinic_id, "+79160007702", "Глеб Недозвонов", hours_ago=0.1)
    base = live_server

    with smtp_server() as (box, url):
        await deliver_alerts(db, url, public_url=base)
    coordinator = "coordinator1@plantrack.demo"
    ours = [
        m
        for m in box.to(coordinator)
        if first.invite_code in m["Subject"] and m["Subject"].startswith("Новое направление")
    ]
    assert len(ours) == 1, [m["Subject"] for m in box.to(coordinator)]
    text = ours[0].get_body().get_content()
    assert "Вера" not in text and "+7916" not in text  # no patient data by mail
    link = re.search(r"https?://\S+/admin/worklist\?referral=\S+", text).group(0)
    assert link.endswith(str(first.referral_id))

    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="ru-RU", timezone_id="Europe/Moscow"
    )
    page = await context.new_page()
    await sign_in(page, base, coordinator)
    await page.goto(base + urlparse(link).path + "?" + urlparse(link).query)
    card = page.locator(f"#w-{first.referral_id}")
    await expect(card).to_have_class(re.compile(r"\bpicked\b"))
    await expect(card).to_contain_text("Вера Звонкова")
    await expect(card.locator(".badge").first).to_have_text(
        re.compile("Новое направление|Скоро срок|Срок первого звонка истёк")
    )
    keep(await shot(page, "clinic-worklist", full_page=False), "clinic-worklist")

    # One click: booked for tomorrow at 11:30 (the clinic's time), with a note.
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(ZoneInfo(clinic.timezone)).date()
    booking = card.locator("form.book-form")
    await booking.locator("input[name=appointment_date]").fill(tomorrow.isoformat())
    await booking.locator("input[name=appointment_time]").fill("11:30")
    await booking.get_by_label("Комментарий").fill("Записали на консультацию")
    await booking.get_by_role("button", name="Записан").click()
    await expect(page.get_by_role("status")).to_have_text("Записано.")
    await expect(page.locator(f"#w-{first.referral_id}")).to_have_count(0)

    # The other patient does not answer: back on the list later, as a call-back.
    other = page.locator(f"#w-{second.referral_id}")
    await other.get_by_role("button", name="Не дозвонились").click()
    await expect(page.get_by_role("status")).to_have_text("Записано.")
    await expect(page.locator(f"#w-{second.referral_id}")).to_have_count(0)
    await expect(page.locator("#later")).to_contain_text("Глеб Недозвонов")
    await shot(page, "clinic-worklist-after")

    # The referral card: booked, and the call in its history.
    await page.goto(f"{base}/admin/referrals/{first.referral_id}")
    await expect(page.locator("#step")).to_have_text("Записан")
    await expect(page.locator("#calls")).to_contain_text("Записали на консультацию")
    await expect(page.locator("#calls")).to_contain_text("Записан")

    # The same page in English.
    await page.goto(f"{base}/admin/lang/en")
    await page.goto(f"{base}/admin/worklist")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Who to call")
    await shot(page, "clinic-worklist-en", full_page=False)

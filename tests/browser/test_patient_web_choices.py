"""The patient's web page at a phone's size, in a real Chromium: "when did they call?"
asked with the yes (a date field, no script needed), and what it records."""

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from backend.runtime.clock import utcnow
from backend.store.tables import Event, Verification
from tests.browser.conftest import shot
from tests.factories import book, make_clinic, make_referral, page_token

PHONE_VIEWPORT = {"width": 390, "height": 844}


async def phone_page(browser):
    ctx = await browser.new_context(
        viewport=PHONE_VIEWPORT,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="ru-RU",
    )
    return ctx, await ctx.new_page()


def payload(row: dict) -> dict:
    return json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]


async def test_the_patient_says_on_the_page_which_day_the_clinic_called(live_server, browser, db):
    now = utcnow()
    tz = ZoneInfo("Europe/Moscow")
    clinic = await make_clinic("Улыбка")
    sent = await make_referral(clinic, phone="+79161260001", at=now - timedelta(days=5))
    await book(sent.referral_id, now + timedelta(days=2), occurred_at=now - timedelta(days=4))
    token = await page_token(db.secret_key, sent.referral_id, sent.patient_id, now)
    ctx, phone = await phone_page(browser)
    await phone.goto(f"{live_server}/p/{token}")
    question = phone.locator("article.card", has_text="Звонили ли вам из клиники «Улыбка»")
    day = question.get_by_label("Когда звонили?")
    today = now.astimezone(tz).date()
    await expect(day).to_have_value(today.isoformat())
    await expect(day).to_have_attribute("max", today.isoformat())
    called = today - timedelta(days=4)
    await day.fill(called.isoformat())
    await shot(phone, "patient-web-when-called")
    await question.get_by_role("button", name="Да").click()
    await expect(phone.get_by_role("status")).to_have_text("Спасибо, ответ записан.")
    await shot(phone, "patient-web-when-called-answered")

    [answer] = await Event.select().where(Event.kind == "patient_answer")
    said = payload(answer)
    start = datetime.combine(called, time(0), tzinfo=tz)
    assert answer["source"] == "patient_sms"
    assert said["called_on"] == "earlier" and said["answer"] == "yes"
    assert datetime.fromisoformat(said["called_after"]) == start
    assert datetime.fromisoformat(said["called_before"]) == start + timedelta(days=1)
    [contact] = await Verification.select().where(
        (Verification.referral == sent.referral_id) & (Verification.milestone == "contacted")
    )
    assert contact["state"] == "verified" and contact["patient_event_id"] == answer["id"]
    await ctx.close()


async def test_the_patient_compares_three_variants_on_a_phone_and_chooses_b(
    live_server, browser, db
):
    import httpx

    from tests.http.test_patient_web_variants import proved_cookie, three_option_referral

    async with httpx.AsyncClient(base_url=live_server) as api:
        referral_id, token = await three_option_referral(api, db, phone="+79161260011")
    ctx, phone = await phone_page(browser)
    await ctx.add_cookies(
        [
            {
                "name": "plantrack_patient",
                "value": await proved_cookie(db, token),
                "url": f"{live_server}/p/",
            }
        ]
    )
    await phone.goto(f"{live_server}/p/{token}")
    section = phone.locator("section.options-section")
    await expect(section.locator("table.compare th")).to_have_text(
        ["Вариант A: Имплантация", "Вариант B: Мостовидный протез", "Вариант C: Съёмный протез"]
    )
    cards = section.locator("article.option")
    await expect(cards).to_have_count(3)
    # Side by side: the cards sit in one row, each most of the phone's width, swiped.
    boxes = [await cards.nth(i).bounding_box() for i in range(3)]
    assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"] and boxes[0]["width"] > 300
    await section.scroll_into_view_if_needed()
    await shot(phone, "patient-web-variants", full_page=False)
    await shot(phone, "patient-web-variants-full")

    bridge = section.locator("#option-B")
    await bridge.scroll_into_view_if_needed()
    await bridge.get_by_role("button", name="Выбрать этот вариант").click()
    await expect(phone.get_by_role("status")).to_have_text(
        "Спасибо, ваш выбор записан. Клиника увидит его."
    )
    await expect(phone.locator("#options-title + p.lead")).to_have_text(
        "Вы выбрали: Вариант B: Мостовидный протез"
    )
    await expect(phone.locator("article.option.chosen h3")).to_have_text(
        "Вариант B: Мостовидный протез"
    )
    await expect(phone.locator("details.others")).not_to_have_attribute("open", "")
    await phone.locator("article.option.chosen").scroll_into_view_if_needed()
    await shot(phone, "patient-web-variant-chosen", full_page=False)

    [chosen] = await Event.select().where(Event.kind == "variant_chosen")
    assert payload(chosen)["variant"] == "B" and chosen["source"] == "patient_sms"
    assert str(chosen["referral"]) == str(referral_id)
    await ctx.close()

"""A patient who never installs the app, verified end to end: the exchange sends the
referral, the invite goes to a local fake SMS.ru over HTTP, the patient opens the link in
a real Chromium at a phone's size, answers "yes, they called" with one tap, the clinic's
card shows the call confirmed; then the patient proves the phone with a code by SMS and
sees the progress bar, the chart before and after, the X-ray. A link preview's GET
records nothing."""

import asyncio
import random
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from admin.i18n import STEPS
from backend.domain.roles import Role
from backend.ops.demo import _xray
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.store import parties
from backend.store.tables import Event, SmsMessage
from tests.browser.conftest import ARTIFACTS, shot, visited_and_first_procedure
from tests.browser.test_admin import keep
from tests.fakes.smsru import FakeSmsRu, running_smsru
from tests.http.staff_client import PASSWORD, Staff, make_staff
from tests.http.staff_client import sign_in as staff_api_sign_in
from tests.live_server import ServerProcess

PHONE = "+79161250001"
PHONE_VIEWPORT = {"width": 390, "height": 844}
APP_STORE = "https://apps.apple.com/app/plantrack/id6480000000"
GOOGLE_PLAY = "https://play.google.com/store/apps/details?id=app.plantrack"


def daytime_zone() -> str:
    """A time zone where it is early afternoon now: the patient's quiet hours (21–09,
    in the clinic's zone by default) never hold the texts, whenever the suite runs."""
    offset = 13 - utcnow().hour
    if offset > 14:
        offset -= 24
    if offset < -12:
        offset += 24
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@pytest.fixture
def fake_smsru():
    with running_smsru(FakeSmsRu()) as fake:
        yield fake


@pytest.fixture
def server(db, tmp_path: Path, fake_smsru: FakeSmsRu):
    process = ServerProcess(
        db,
        tmp_path,
        PLANTRACK_EMBEDDED_WORKER="1",
        PLANTRACK_SMS_PROVIDER="smsru",
        PLANTRACK_SMS_API_ID=fake_smsru.api_id,
        PLANTRACK_SMS_ENDPOINT=fake_smsru.base_url,
        PLANTRACK_APP_STORE_URL=APP_STORE,
        PLANTRACK_GOOGLE_PLAY_URL=GOOGLE_PLAY,
    )
    process.env["PLANTRACK_PUBLIC_URL"] = process.url  # the links in the texts
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def texts_to(fake: FakeSmsRu, count: int, seconds: float = 30) -> list[str]:
    """The texts the fake SMS.ru took for the patient, once there are `count` of them."""
    for _ in range(int(seconds * 10)):
        got = fake.texts_to(PHONE)
        if len(got) >= count:
            return got
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} SMS, got {fake.texts_to(PHONE)}")


def link_in(text: str, base: str) -> str:
    return re.search(re.escape(base) + r"/p/[A-Za-z0-9_-]{22}", text)[0]


async def chart_shot(section) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "patient-chart.png"
    await section.screenshot(path=str(path))
    return path


async def admin_sign_in(page: Page, base: str, staff: Staff) -> None:
    await page.goto(f"{base}/admin/lang/ru")
    await page.goto(f"{base}/admin/login")
    await page.get_by_label("Эл. почта").fill(staff.email)
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_label(re.compile("аутентификатор")).fill(staff.code())
    await page.get_by_role("button", name=re.compile("^Вход$")).click()
    await expect(page).not_to_have_url(re.compile(r"/admin/login"))


async def test_a_patient_without_the_app_is_verified_through_sms_and_the_browser(
    db, server, browser, fake_smsru
):
    base = server.url
    clinic_id = new_id()
    await parties.insert_clinic(
        clinic_id=clinic_id,
        name="Улыбка",
        city="Москва",
        timezone=daytime_zone(),
        now=utcnow() - timedelta(days=30),
        address="ул. Тверская, 12",
        phone="+74951234567",
    )
    coordinator = await make_staff(Role.clinic_coordinator, clinic_id)
    async with httpx.AsyncClient(base_url=base) as api:
        operator = await staff_api_sign_in(api, await make_staff(Role.exchange_operator))
        created = await api.post(
            "/api/v1/exchange/referrals",
            headers=operator.headers,
            json={
                "patient": {"phone": PHONE, "name": "Вера Смс"},
                "clinic_id": str(clinic_id),
                "plan": {
                    "items": [
                        {
                            "specialization": "diagnostics",
                            "price": 1_500_00,
                            "title_ru": "Консультация и осмотр",
                            "title_en": "Consultation",
                        },
                        {
                            "specialization": "therapy",
                            "price": 6_500_00,
                            "title_ru": "Лечение кариеса, пломба",
                            "title_en": "Filling",
                            "tooth": 16,
                        },
                        {
                            "specialization": "implantology",
                            "price": 55_000_00,
                            "title_ru": "Установка импланта",
                            "title_en": "Implant",
                            "tooth": 36,
                            "stage": 2,
                        },
                        {
                            "specialization": "orthopedics",
                            "price": 35_000_00,
                            "title_ru": "Коронка на имплант",
                            "title_en": "Crown on implant",
                            "tooth": 36,
                            "stage": 3,
                        },
                    ],
                    "teeth": [
                        {"tooth": 16, "phase": "before", "condition": "caries"},
                        {"tooth": 16, "phase": "after", "condition": "filled"},
                        {"tooth": 36, "phase": "before", "condition": "missing"},
                        {"tooth": 36, "phase": "after", "condition": "implant"},
                        {"tooth": 46, "phase": "before", "condition": "crown"},
                        {"tooth": 46, "phase": "after", "condition": "crown"},
                    ],
                },
            },
        )
        assert created.status_code == 201, created.text
        referral_id = created.json()["id"]
        uploaded = await api.post(
            f"/api/v1/exchange/referrals/{referral_id}/media",
            headers=operator.headers,
            files={"file": ("xray.jpg", _xray(random.Random(5)), "image/jpeg")},
            data={"kind": "xray", "phase": "before", "caption": "Ортопантомограмма"},
        )
        assert uploaded.status_code in (200, 201), uploaded.text

        # The invite reaches the fake SMS.ru: the clinic's name, its call, the link.
        [invite] = await texts_to(fake_smsru, 1)
        assert "«Улыбка» позвонит вам" in invite
        link = link_in(invite, base)
        # A messenger's preview fetches the link: it sees a page and records nothing.
        events = await Event.count()
        preview = await api.get(link, headers={"User-Agent": "TelegramBot (like TwitterBot)"})
        assert preview.status_code == 200 and await Event.count() == events

    phone_ctx = await browser.new_context(
        viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    phone = await phone_ctx.new_page()
    await phone.goto(link)
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Клиника «Улыбка»")
    await expect(phone.get_by_text("Клиника позвонит вам, чтобы записать на приём")).to_be_visible()
    await expect(phone.get_by_role("link", name="Скачать в App Store")).to_have_attribute(
        "href", APP_STORE
    )
    keep(await shot(phone, "patient-invite"), "patient-invite")

    # The clinic calls and books; the coordinator records it on the referral's card.
    desk_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    desk = await desk_ctx.new_page()
    await admin_sign_in(desk, base, coordinator)
    card = f"{base}/admin/referrals/{referral_id}"
    await desk.goto(card)
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    call = desk.locator("#call-form")
    await call.get_by_label("Записан").check()
    await call.locator("input[name=appointment_date]").fill(tomorrow)
    await call.get_by_role("button", name="Записать").click()
    await expect(desk.locator("#step")).to_have_text("Записан")

    # The questions it brings reach the patient: one SMS, its own link.
    texts = await texts_to(fake_smsru, 2)
    assert texts[1].startswith("Вопрос по направлению: ")
    question_link = link_in(texts[1], base)
    assert question_link != link
    await phone.goto(question_link)
    question = phone.locator("article.card.focus")
    await expect(question.locator(".question")).to_contain_text(
        "Звонили ли вам из клиники «Улыбка»"
    )
    await expect(phone.locator("article.card")).to_have_count(2)  # and "are you booked?"
    keep(await shot(phone, "patient-question"), "patient-question")
    await question.get_by_role("button", name="Да").click()
    await expect(phone.get_by_role("status")).to_have_text("Спасибо, ответ записан.")
    await expect(phone.locator("article.card")).to_have_count(1)

    # The clinic's card shows the call confirmed by the patient.
    await desk.reload()
    contacted = desk.locator("#verifications tr", has_text=STEPS["contacted"]["ru"]).first
    await expect(contacted.locator(".state")).to_have_class(re.compile("state-verified"))
    await expect(desk.locator("ol.timeline")).to_contain_text("patient_sms")
    [answer] = await Event.select(Event.source).where(Event.kind == "patient_answer")
    assert answer["source"] == "patient_sms"

    # The visit and a first procedure, so the plan has moved.
    await visited_and_first_procedure(desk, "кариеса")

    # The whole plan: only after the phone is proved with a code sent by SMS.
    await phone.goto(link)
    await phone.get_by_role("link", name="Весь план лечения").click()
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Вход по коду из SMS")
    await expect(phone.locator("progress")).to_have_count(0)
    sent_before = len(fake_smsru.texts_to(PHONE))
    await phone.get_by_role("button", name="Прислать код").click()
    await expect(phone.get_by_role("status")).to_contain_text("Код отправлен")
    code_sms = (await texts_to(fake_smsru, sent_before + 1))[-1]
    code = re.search(r"Код для входа: (\d{6})\.", code_sms)[1]
    keep(await shot(phone, "patient-sign-in", full_page=False), "patient-sign-in")
    await phone.get_by_label("Код из SMS").fill(code)
    await phone.get_by_role("button", name="Войти").click()
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Ваш план лечения")
    progress = phone.locator("progress")
    await expect(progress).to_be_visible()
    assert int(await progress.get_attribute("value")) > 0
    await expect(phone.locator("figure.chart svg")).to_have_count(2)
    await expect(phone.locator("figure.chart figcaption")).to_have_text(
        ["До лечения", "После лечения (план)"]
    )
    picture = phone.locator("figure.picture img")
    await picture.scroll_into_view_if_needed()  # loaded lazily: a cheap phone's data
    await expect(picture).to_be_visible()
    await phone.wait_for_function(
        "() => { const i = document.querySelector('figure.picture img');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    await shot(phone, "patient-plan-full")
    await phone.evaluate("window.scrollTo(0, 0)")
    keep(await shot(phone, "patient-plan", full_page=False), "patient-plan")
    chart_section = phone.locator("section", has=phone.locator("#chart-heading"))
    await chart_section.scroll_into_view_if_needed()
    keep(await chart_shot(chart_section), "patient-chart")

    # Every text went once; the code was one of them, and none carried the plan.
    texts = fake_smsru.texts_to(PHONE)
    assert len(texts) == len(set(texts))
    assert not any(word in t for t in texts for word in ("имплант", "кариес", "₽"))
    kinds = [r["kind"] for r in await SmsMessage.select().where(SmsMessage.status == "sent")]
    assert kinds.count("invite") == 1 and kinds.count("code") == 1

    # A preview of every link, fetched again, still records nothing.
    events = await Event.count()
    async with httpx.AsyncClient() as bot:
        for url in (link, question_link, f"{link}/plan"):
            assert (await bot.get(url)).status_code == 200
    assert await Event.count() == events
    await phone_ctx.close()
    await desk_ctx.close()

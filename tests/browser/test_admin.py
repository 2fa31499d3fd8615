"""The staff pages in a real browser: sign in with TOTP, work a referral from booked to a
procedure done, watch the funnel move, rule on a dispute, time out when idle."""

import os
import re
import shutil
from datetime import timedelta

import pyotp
from playwright.async_api import Page, expect

from backend.domain.events import Source
from backend.ops.demo import DEMO_PASSWORD, demo_id, load_demo
from backend.runtime.clock import utcnow
from backend.services.answers import answer_question
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, send_referral
from backend.store import parties, questions
from backend.store.tables import Clinic, StaffSession
from tests.browser.conftest import ARTIFACTS, shot, visited_and_first_procedure

DOCS = ARTIFACTS.parents[1] / "docs" / "screenshots"


async def sign_in(page: Page, base: str, email: str, lang: str = "ru") -> None:
    staff = await parties.staff_by_email(email)
    await page.goto(f"{base}/admin/lang/{lang}")
    await page.goto(f"{base}/admin")
    await expect(page).to_have_url(re.compile(r"/admin/login"))
    await page.get_by_label("Эл. почта" if lang == "ru" else "E-mail").fill(email)
    await page.get_by_label("Пароль" if lang == "ru" else "Password").fill(DEMO_PASSWORD)
    code = pyotp.TOTP(staff.totp_secret).now()
    await page.get_by_label(re.compile("аутентификатор|Authenticator")).fill(code)
    await page.get_by_role("button", name=re.compile("^(Вход|Sign in)$")).click()
    await expect(page).not_to_have_url(re.compile(r"/admin/login"))


async def executed_this_month(page: Page, base: str) -> str:
    await page.goto(f"{base}/admin/funnel")
    return (await page.locator("#fig-executed").inner_text()).strip()


def keep(path, name: str) -> None:
    """With PLANTRACK_UPDATE_SCREENSHOTS=1, refresh the README's pictures."""
    if os.environ.get("PLANTRACK_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / f"{name}.png")


async def test_clinic_works_a_referral_and_the_exchange_rules(live_server, browser, db):
    now = utcnow()
    await load_demo(referrals_count=40, now=now)
    clinic_id = demo_id("clinic", 0)
    sent = await send_referral(
        patient=PatientIn(phone="+79160001122", name="Тест Браузеров"),
        clinic_id=clinic_id,
        plan=PlanIn(
            items=[
                PlanItemIn(
                    specialization="therapy", price=6_500_00, title_ru="Лечение кариеса", tooth=16
                ),
                PlanItemIn(specialization="hygiene", price=7_500_00, title_ru="Гигиена", stage=2),
            ]
        ),
        source=Source.exchange,
        actor="test",
        sent_at=now - timedelta(hours=2),
        now=now - timedelta(hours=2),
    )
    base = live_server

    manager_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    manager = await manager_ctx.new_page()
    await sign_in(manager, base, "manager1@plantrack.demo")
    before = await executed_this_month(manager, base)

    coord_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    coord = await coord_ctx.new_page()
    await sign_in(coord, base, "coordinator1@plantrack.demo")
    await expect(coord).to_have_url(re.compile(r"/admin/worklist"))  # the day starts there
    await coord.get_by_role("link", name="Направления").click()
    await expect(coord).to_have_url(re.compile(r"/admin/referrals"))
    await expect(coord.locator("#referrals tbody tr").first).to_be_visible()
    keep(await shot(coord, "clinic-referrals", full_page=False), "clinic-referrals")

    # Find the new referral by the patient's name, open it, work it.
    await coord.get_by_label("Поиск: имя или телефон").fill("браузеров")
    await coord.get_by_role("button", name="Показать").click()
    await coord.get_by_role("link", name="Тест Браузеров").click()
    await expect(coord.locator("#step")).to_have_text("Отправлено")

    tomorrow = (now + timedelta(days=1)).astimezone().date().isoformat()
    call = coord.locator("#call-form")
    await call.get_by_label("Записан").check()
    await call.locator("input[name=appointment_date]").fill(tomorrow)
    await call.get_by_role("button", name="Записать").click()
    await expect(coord.locator("#step")).to_have_text("Записан")
    await visited_and_first_procedure(coord, "кариеса")
    await expect(coord.locator("#executed")).to_contain_text("6")
    keep(await shot(coord, "clinic-referral"), "clinic-referral")

    # The manager's funnel moved by the procedure's price.
    after = await executed_this_month(manager, base)
    assert after != before
    digits = int(re.sub(r"\D", "", after)) - int(re.sub(r"\D", "", before) or 0)
    assert digits == 6500
    await expect(manager.locator("#funnel-bars svg")).to_be_visible()
    # The new case is a hygiene case (most of its estimate); the demo's cases are beside it.
    row = manager.locator("#by-specialization tbody tr", has_text="гигиена")
    await expect(row).to_have_count(1)
    await expect(manager.locator("#plan-fact tbody tr")).to_have_count(3)
    keep(await shot(manager, "clinic-funnel"), "clinic-funnel")

    # The patient says the procedure was not done: the exchange rules on it.
    [q] = [
        q
        for q in await questions.asked_for(sent.referral_id)
        if q.kind == "confirm_item" and q.open
    ]
    await answer_question(patient_id=sent.patient_id, question_id=q.id, answer="no")
    operator_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    operator = await operator_ctx.new_page()
    await sign_in(operator, base, "operator@plantrack.demo")
    await operator.goto(f"{base}/admin/disputes")
    ours = operator.locator("article.dispute", has_text="Тест Браузеров")
    await expect(ours).to_have_count(1)
    total = await operator.locator("article.dispute").count()
    keep(await shot(operator, "exchange-disputes", full_page=False), "exchange-disputes")
    await ours.get_by_label("Не было").check()
    await ours.get_by_label("Комментарий").fill("Пациент прав, клиника подтвердила")
    await ours.get_by_role("button", name="Записать").click()
    await expect(operator.get_by_role("status")).to_have_text("Записано.")
    await expect(operator.locator("article.dispute")).to_have_count(total - 1)
    await expect(operator.locator("article.dispute", has_text="Тест Браузеров")).to_have_count(0)

    # The coordinator's card shows the procedure undone again.
    await coord.reload()
    await expect(coord.locator("#executed")).to_have_text(re.compile(r"^0\s*₽$"))


async def test_pages_in_english_and_idle_sessions_end(live_server, browser, db):
    await load_demo(referrals_count=10, now=utcnow())
    base = live_server
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await sign_in(page, base, "analyst@plantrack.demo", lang="en")
    await expect(page).to_have_url(re.compile(r"/admin/funnel"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Funnel in money")
    # The analyst may not see referrals (no patient contact data).
    response = await page.goto(f"{base}/admin/referrals")
    assert response.status == 403
    # Fifteen idle minutes later the session is over.
    await StaffSession.update(
        {StaffSession.last_seen_at: utcnow() - timedelta(minutes=16)}, force=True
    )
    await page.goto(f"{base}/admin/scorecards")
    await expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin/scorecards"))
    await expect(page.get_by_role("status")).to_contain_text("session")


async def test_a_form_without_its_csrf_token_is_refused(live_server, browser, db):
    await load_demo(referrals_count=5, now=utcnow())
    base = live_server
    page = await (await browser.new_context()).new_page()
    await sign_in(page, base, "operator@plantrack.demo")
    # A form posted without the token, as another page's script would (the content
    # policy forbids fetch() from the page itself, so a form it is).
    forged = """(url) => {
        const form = Object.assign(document.createElement("form"), {method: "post", action: url});
        for (const [name, value] of [["name", "Evil"], ["city", "X"]]) {
            form.append(Object.assign(document.createElement("input"), {name, value}));
        }
        document.body.append(form);
        form.submit();
    }"""
    posted = lambda r: r.url.endswith("/admin/clinics") and r.request.method == "POST"  # noqa: E731
    async with page.expect_response(posted) as answer:
        await page.evaluate(forged, f"{base}/admin/clinics")
    assert (await answer.value).status == 403
    assert not await Clinic.exists().where(Clinic.name == "Evil")

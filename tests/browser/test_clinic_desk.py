"""The clinic answers a dispute about itself and the exchange sees the answer beside the
evidence; the manager reads the clinic's own scorecard; a person sets their alerts; the
exchange deactivates a coordinator (whose open page ends at once) and gives another a
new authenticator. In a real browser, with screenshots."""

import re
from datetime import timedelta

from playwright.async_api import expect

from backend.domain.claims import VisitedIn
from backend.domain.events import Source
from backend.ops.demo import demo_id, load_demo
from backend.runtime.clock import utcnow
from backend.services.answers import answer_question
from backend.services.claims import record_clinic_claim
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, send_referral
from backend.store import parties, questions
from backend.store.tables import AuditLog
from tests.browser.conftest import shot
from tests.browser.test_admin import sign_in


async def disputed_visit(clinic_id):
    now = utcnow()
    sent = await send_referral(
        patient=PatientIn(phone="+79160008801", name="Спорный Пациент"),
        clinic_id=clinic_id,
        plan=PlanIn(
            items=[PlanItemIn(specialization="therapy", price=4_000_00, title_ru="Пломба")]
        ),
        source=Source.exchange,
        actor="test",
        sent_at=now - timedelta(days=2),
        now=now - timedelta(days=2),
    )
    await record_clinic_claim(
        sent.referral_id,
        VisitedIn(occurred_at=now - timedelta(hours=5)),
        source=Source.clinic_panel,
        actor="staff:test",
    )
    [q] = [
        q
        for q in await questions.asked_for(sent.referral_id)
        if q.kind == "confirm_visit" and q.open
    ]
    await answer_question(
        patient_id=sent.patient_id, question_id=q.id, answer="no", note="Я не был"
    )
    return sent


async def test_the_clinic_answers_a_dispute_and_the_exchange_sees_it(live_server, browser, db):
    await load_demo(referrals_count=8, now=utcnow())
    clinic_id = demo_id("clinic", 0)
    await disputed_visit(clinic_id)
    base = live_server

    coord = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(coord, base, "coordinator1@plantrack.demo")
    await coord.get_by_role("link", name="Споры о клинике").click()
    ours = coord.locator("article.dispute", has_text="Спорный Пациент")
    await expect(ours).to_contain_text("Я не был")
    await ours.get_by_label("Комментарий").fill("Пациент был 5 часов назад, есть подпись в журнале")
    await ours.get_by_role("button", name="Ответить").click()
    await expect(coord.get_by_role("status")).to_have_text("Ответ записан.")
    await expect(coord.locator("article.dispute", has_text="Спорный Пациент")).to_contain_text(
        "есть подпись в журнале"
    )
    await shot(coord, "clinic-disputes")

    # The exchange's queue shows the clinic's words with the evidence.
    operator = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(operator, base, "operator@plantrack.demo")
    await operator.goto(f"{base}/admin/disputes")
    theirs = operator.locator("article.dispute", has_text="Спорный Пациент")
    await expect(theirs).to_contain_text("есть подпись в журнале")

    # The manager reads the clinic's scorecard as the exchange does.
    manager = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(manager, base, "manager1@plantrack.demo")
    await manager.get_by_role("link", name="Наши показатели").click()
    await expect(manager.get_by_role("heading", level=1)).to_have_text("Наши показатели")
    clinic = await parties.clinic(clinic_id)
    await expect(manager.locator("table.list").first.locator("tbody tr")).to_have_count(1)
    await expect(manager.locator("table.list").first).to_contain_text(clinic.name)
    await shot(manager, "clinic-scorecard", full_page=False)

    # The manager chooses alerts: a morning digest, in English.
    await manager.get_by_role("link", name="Уведомления").click()
    await manager.get_by_label("Одним письмом утром").check()
    await manager.get_by_label("Язык писем").select_option("en")
    await manager.get_by_role("button", name="Сохранить").click()
    await expect(manager.get_by_role("status")).to_have_text("Сохранено.")
    await expect(manager.get_by_label("Одним письмом утром")).to_be_checked()
    await shot(manager, "alert-preferences")


async def test_the_exchange_deactivates_and_rekeys_staff(live_server, browser, db):
    await load_demo(referrals_count=4, now=utcnow())
    base = live_server
    coord = await (await browser.new_context()).new_page()
    await sign_in(coord, base, "coordinator2@plantrack.demo")
    await expect(coord).to_have_url(re.compile(r"/admin/worklist"))

    operator = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await sign_in(operator, base, "operator@plantrack.demo")
    await operator.get_by_role("link", name="Сотрудники").click()
    row = operator.locator("#accounts tr", has_text="coordinator2@plantrack.demo")
    await row.locator("summary").click()
    await shot(operator, "exchange-staff", full_page=False)
    await row.get_by_role("button", name="Отключить").click()
    await expect(operator.get_by_role("status")).to_have_text("Сохранено.")
    await expect(
        operator.locator("#accounts tr", has_text="coordinator2@plantrack.demo")
    ).to_contain_text("Отключён")

    # The coordinator's open page ends at once.
    await coord.reload()
    await expect(coord).to_have_url(re.compile(r"/admin/login"))

    # Another coordinator gets a new authenticator: a QR to enrol, shown once.
    row = operator.locator("#accounts tr", has_text="coordinator3@plantrack.demo")
    await row.locator("summary").click()
    await row.get_by_role("button", name="Новый аутентификатор").click()
    await expect(operator.locator(".qr svg")).to_be_visible()
    await expect(operator.get_by_role("status")).to_contain_text("Старые коды больше не действуют")
    staff = await parties.staff_by_email("coordinator3@plantrack.demo")
    assert staff.totp_confirmed_at is None
    actions = [r["action"] for r in await AuditLog.select(AuditLog.action)]
    assert "staff_deactivated" in actions and "staff_authenticator_reset" in actions

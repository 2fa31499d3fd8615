"""The plan's variants on the patient's web page: an unproved phone is told only how many
there are; a proved one sees them side by side and chooses one by POST — the same ledger
event as the app's `POST /me/referrals/{id}/variant`, through the same service; after
the choice the page shows the chosen one."""

from uuid import UUID

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.services import patient_links, sms
from backend.store.tables import Event, Referral
from tests.factories import make_clinic, page_token
from tests.http.staff_client import make_staff, sign_in
from tests.http.test_patient_web import csrf_of, post_form, sms_code
from tests.http.test_plan_variants import send_three_options

PHONE = "+79161270001"


async def three_option_referral(client, db, phone: str = PHONE) -> tuple[UUID, str]:
    clinic_id = await make_clinic("Улыбка")
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    sent = await send_three_options(client, operator, clinic_id, phone, "Вера Вариантова")
    referral_id = UUID(sent)
    [row] = await Referral.select(Referral.patient).where(Referral.id == referral_id)
    token = await page_token(db.secret_key, referral_id, row["patient"])
    return referral_id, token


async def proved_cookie(db, token: str) -> str:
    """A browser session for the link's phone, as the SMS code opens one."""
    now = utcnow()
    access = await patient_links.open_link(token, now)
    await sms.request_code(access, secret=db.secret_key, now=now)
    code = await sms_code(db, access.referral_id)
    proved = await patient_links.prove(access, code, secret=db.secret_key, now=now)
    return proved.cookie


async def test_the_patient_compares_the_variants_and_chooses_one_on_the_page(client, db):
    referral_id, token = await three_option_referral(client, db)
    page = (await client.get(f"/p/{token}")).text
    # Not proved: how many, not what (procedures are health data); no choice possible.
    assert "вариантов лечения: 3" in page
    assert "Имплантация" not in page and 'name="variant"' not in page
    refused = await post_form(client, f"/p/{token}/variant", page, {"variant": "B"})
    assert refused.status_code == 303 and refused.headers["location"] == f"/p/{token}/plan"
    assert await Event.count().where(Event.kind == "variant_chosen") == 0

    client.cookies.set("plantrack_patient", await proved_cookie(db, token), path="/p")
    page = (await client.get(f"/p/{token}")).text.replace("\u00a0", " ")
    for words in (
        "Вариант A: Имплантация",
        "Вариант B: Мостовидный протез",
        "Вариант C: Съёмный протез",
        "97 000 ₽",
        "50 000 ₽",
        "27 000 ₽",
        "≈ 31 дн. лечения",
        "Соседние зубы обтачиваются",
        "Мост из трёх единиц",
    ):
        assert words in page, words
    assert page.count('name="variant"') == 3
    assert len(page.encode()) < 100_000  # still one small request

    bad = await post_form(client, f"/p/{token}/variant", page, {"variant": "Z"})
    assert bad.status_code in (400, 422) and "<html" in bad.text
    forged = await client.post(f"/p/{token}/variant", data={"variant": "B"})
    assert forged.status_code == 403
    chosen = await post_form(client, f"/p/{token}/variant", page, {"variant": "B"})
    assert chosen.status_code == 303
    assert chosen.headers["location"] == f"/p/{token}?done=chosen#options-title"
    [event] = await Event.select().where(Event.kind == "variant_chosen")
    assert event["source"] == "patient_sms" and event["side"] == "patient"
    assert str(event["referral"]) == str(referral_id)

    after = (await client.get(f"/p/{token}?done=chosen")).text
    assert "Спасибо, ваш выбор записан." in after
    assert "Вы выбрали: Вариант B: Мостовидный протез" in after
    assert "Вы выбрали этот вариант" in after
    assert 'value="B"' not in after and after.count('name="variant"') == 2  # change of mind

    # The app sees the same choice (one ledger, one fold).
    screen = await client.get(f"/p/{token}/plan")
    assert screen.status_code == 200 and csrf_of(screen.text)

"""A clinic coordinator uploads an "after" photo in a real browser; the patient then sees
it through the app's API, beside the "before" one, stripped of the camera's metadata; and
the patient's plan page on a phone shows the pictures in the size the screen needs. Both
on the media directory and on the object store (the browser then loads the pictures
straight from the store)."""

import io
import re
from datetime import timedelta

import httpx
import pyotp
from PIL import Image
from playwright.async_api import expect

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.services.media import attach_media
from backend.store import parties
from tests.browser.conftest import ARTIFACTS, shot
from tests.factories import make_clinic, make_referral, page_token
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import PASSWORD, make_staff
from tests.http.test_patient_web_variants import proved_cookie
from tests.pictures import ON_BOTH_STORES, files_of

PHONE = "+79164440020"


def photo_with_gps(colour: tuple[int, int, int]) -> bytes:
    """A JPEG as a phone makes it: with EXIF that says where it was taken."""
    image = Image.new("RGB", (640, 420), colour)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (55.0, 45.0, 21.0), 3: "E", 4: (37.0, 37.0, 4.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@ON_BOTH_STORES
async def test_clinic_uploads_an_after_photo_the_patient_then_sees(
    live_server, browser, db, media_backend
):
    now = utcnow()
    clinic_id = await make_clinic()
    sent = await make_referral(clinic_id, phone=PHONE, at=now - timedelta(hours=2))
    before = await attach_media(
        files_of(db),
        referral_id=sent.referral_id,
        data=photo_with_gps((120, 90, 60)),
        kind="photo",
        phase="before",
        tooth=36,
    )
    staff = await make_staff(Role.clinic_coordinator, clinic_id)
    secret = (await parties.staff_by_email(staff.email)).totp_secret
    upload = ARTIFACTS.parent / "after-36.jpg"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(photo_with_gps((240, 240, 235)))

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{live_server}/admin/lang/ru")
    await page.goto(f"{live_server}/admin/login")
    await page.get_by_label("Эл. почта").fill(staff.email)
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_label(re.compile("аутентификатор")).fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Вход").click()
    await expect(page).not_to_have_url(re.compile(r"/admin/login"))

    await page.goto(f"{live_server}/admin/referrals/{sent.referral_id}")
    await page.get_by_role("link", name="Снимки и фото").click()
    form = page.locator("#picture-form")
    await form.get_by_label("Файл").set_input_files(str(upload))
    await form.get_by_label("Что это").select_option("photo")
    await form.get_by_label("Когда").select_option("after")
    await form.get_by_label("Зуб").fill("36")
    await form.get_by_label("Подпись").fill("Имплант и коронка")
    await form.get_by_role("button", name="Загрузить").click()
    await expect(page.get_by_role("status")).to_have_text("Сохранено.")
    after_section = page.locator("section", has=page.locator("#ph-after"))
    picture = after_section.get_by_role("img")
    await expect(picture).to_have_count(1)
    await expect(picture).to_have_attribute("alt", "Фото, зуб 36: Имплант и коронка")
    # The browser really loaded the thumbnail (not the photo) through its signed URL.
    assert await picture.evaluate("img => img.complete && img.naturalWidth") == 320
    source = await picture.evaluate("img => img.currentSrc")
    assert source.startswith(db.s3_endpoint_url if media_backend == "s3" else live_server)
    await shot(page, f"clinic-pictures-{media_backend}")
    await context.close()

    async with httpx.AsyncClient(base_url=live_server) as app:
        patient = await patient_sign_in(app, PHONE, invite_code=sent.invite_code)
        listed = await app.get(
            f"/api/v1/me/referrals/{sent.referral_id}/media", headers=patient.headers
        )
        assert listed.status_code == 200, listed.text
        body = listed.json()
        [after] = body["by_phase"]["after"]
        assert (after["kind"], after["tooth"], after["caption"]) == (
            "photo",
            36,
            "Имплант и коронка",
        )
        [pair] = body["side_by_side"]
        assert pair["label"] == "Фото (зуб 36)"
        assert (pair["before"]["id"], pair["after"]["id"]) == (str(before), after["id"])
        picture = await app.get(after["url"])  # no token: the signed URL is the key
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/jpeg"
        stored = Image.open(io.BytesIO(picture.content))
        assert stored.size == (640, 420)
        assert not stored.getexif(), "the camera's metadata reached the record"


def xray(width: int, height: int) -> bytes:
    image = Image.linear_gradient("L").resize((width, height))
    for x in range(0, width, 120):
        image.paste(230, (x, height // 3, x + 40, 2 * height // 3))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


@ON_BOTH_STORES
async def test_the_plan_page_on_a_phone_loads_the_screen_size(
    live_server, browser, db, media_backend
):
    sent = await make_referral(await make_clinic(), phone=PHONE)
    files = files_of(db)
    await attach_media(
        files,
        referral_id=sent.referral_id,
        data=xray(3000, 1500),
        kind="xray",
        phase="before",
        caption="Ортопантомограмма",
    )
    await attach_media(
        files,
        referral_id=sent.referral_id,
        data=photo_with_gps((200, 120, 110)),
        kind="photo",
        phase="before",
        tooth=36,
        caption="Зуб 36",
    )
    token = await page_token(db.secret_key, sent.referral_id, sent.patient_id)
    cookie = await proved_cookie(db, token)

    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True
    )
    await context.add_cookies(
        [{"name": "plantrack_patient", "value": cookie, "domain": "127.0.0.1", "path": "/p"}]
    )
    page = await context.new_page()
    await page.goto(f"{live_server}/p/{token}/plan")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Ваш план лечения")
    pictures = page.locator("figure.picture img")
    await expect(pictures).to_have_count(2)
    for i in range(2):
        await pictures.nth(i).scroll_into_view_if_needed()  # loaded lazily
    await page.wait_for_function(
        "() => [...document.querySelectorAll('figure.picture img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    sources = await pictures.evaluate_all("imgs => imgs.map(i => i.currentSrc)")
    # 390 CSS pixels at 3 device pixels each: the screen size in WebP, not the X-ray's
    # 3000 pixels nor the thumbnail's 320 (the photo is smaller than a screen: as it is).
    async with httpx.AsyncClient() as web:
        for src, size in zip(sources, [(1600, 800), (640, 420)], strict=True):
            if media_backend == "s3":
                assert src.startswith(db.s3_endpoint_url + "/") and "X-Amz-Signature=" in src
                assert ".screen.webp?" in src
            else:
                assert src.startswith(f"{live_server}/media/") and "v=screen.webp" in src
            got = Image.open(io.BytesIO((await web.get(src)).content))
            assert (got.format, got.size) == ("WEBP", size)
    await shot(page, f"patient-plan-pictures-{media_backend}")
    await context.close()

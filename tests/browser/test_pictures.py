"""A clinic coordinator uploads an "after" photo in a real browser; the patient then sees
it through the app's API, beside the "before" one, stripped of the camera's metadata."""

import io
import re
from datetime import timedelta

import httpx
import pyotp
from PIL import Image
from playwright.async_api import expect

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.runtime.media_files import LocalMediaFiles
from backend.services.media import attach_media
from backend.store import parties
from tests.browser.conftest import ARTIFACTS, shot
from tests.factories import make_clinic, make_referral
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import PASSWORD, make_staff

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


async def test_clinic_uploads_an_after_photo_the_patient_then_sees(live_server, browser, db):
    now = utcnow()
    clinic_id = await make_clinic()
    sent = await make_referral(clinic_id, phone=PHONE, at=now - timedelta(hours=2))
    before = await attach_media(
        LocalMediaFiles(db.media_dir),
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
    # The browser really loaded the picture through its signed URL.
    assert await picture.evaluate("img => img.complete && img.naturalWidth") == 640
    await shot(page, "clinic-pictures")
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

"""Patient-side services on a real database: visit-code limits, pictures, devices."""

import io
from datetime import timedelta

import pytest
from PIL import Image

from backend.runtime.media_files import LocalMediaFiles
from backend.services.errors import Invalid, TooManyAttempts
from backend.services.media import attach_media
from backend.services.profile import forget_device, register_device
from backend.services.visit_codes import MAX_WRONG, WINDOW, issue_code, redeem_code
from backend.store import media
from backend.store.tables import Device
from tests.factories import NOW, make_clinic, make_referral
from tests.pictures import ON_BOTH_STORES, files_of

SECRET = "s" * 48


async def test_wrong_visit_codes_lock_for_a_window_only(db):
    sent = await make_referral(await make_clinic())
    code = await issue_code(sent.referral_id, secret=SECRET, issued_by="staff:1", now=NOW)
    wrong = "000000" if code.code != "000000" else "111111"
    for _ in range(MAX_WRONG):
        with pytest.raises(Invalid):
            await redeem_code(sent.patient_id, sent.referral_id, wrong, secret=SECRET, now=NOW)
    # Now even the right code waits: guessing is out of reach.
    with pytest.raises(TooManyAttempts):
        await redeem_code(sent.patient_id, sent.referral_id, code.code, secret=SECRET, now=NOW)
    # The lock ends with its window; the right code (still valid) then works.
    later = NOW + WINDOW + timedelta(seconds=1)
    result = await redeem_code(
        sent.patient_id, sent.referral_id, code.code, secret=SECRET, now=later
    )
    assert result.fold.step == "visited"


async def test_visit_code_expires(db):
    sent = await make_referral(await make_clinic())
    code = await issue_code(sent.referral_id, secret=SECRET, issued_by="staff:1", now=NOW)
    with pytest.raises(Invalid):
        await redeem_code(
            sent.patient_id,
            sent.referral_id,
            code.code,
            secret=SECRET,
            now=NOW + timedelta(hours=1),
        )


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (80, 60), (200, 180, 160))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {2: (55.0, 45.0, 0.0), 4: (37.0, 37.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@ON_BOTH_STORES
async def test_pictures_lose_their_metadata_and_bad_files_are_refused(db):
    sent = await make_referral(await make_clinic())
    files = files_of(db)
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()  # the phone's EXIF is there
    media_id = await attach_media(
        files, referral_id=sent.referral_id, data=original, kind="photo", phase="before", now=NOW
    )
    row = await media.get(media_id)
    stored = await files.get(row.storage_key)
    assert row.content_type == "image/jpeg" and row.size_bytes == len(stored)
    assert not Image.open(io.BytesIO(stored)).getexif()
    for size in row.sizes:  # nor do their smaller copies carry it
        assert not Image.open(io.BytesIO(await files.get(size.key))).getexif()
    assert {(s.name, s.format) for s in row.sizes} == {
        (n, f) for n in ("thumb", "screen") for f in ("webp", "jpeg")
    }
    with pytest.raises(Invalid):
        await attach_media(
            files,
            referral_id=sent.referral_id,
            data=b"<svg onload=alert(1)>",
            kind="photo",
            phase="before",
        )
    assert len(await files.objects()) == 5  # the refused file left nothing behind
    if isinstance(files, LocalMediaFiles):
        with pytest.raises(ValueError):
            files.path("../../etc/passwd")


async def test_device_tokens_follow_the_person_signed_in(db):
    clinic = await make_clinic()
    a = await make_referral(clinic, phone="+79161234567")
    b = await make_referral(clinic, phone="+79167654321")
    token = "fcm-" + "x" * 40
    await register_device(a.patient_id, token=token, platform="ios", app_version="1", locale="ru")
    await register_device(b.patient_id, token=token, platform="ios", app_version="2", locale="en")
    [row] = await Device.select()
    assert row["patient"] == b.patient_id and row["app_version"] == "2"
    await forget_device(b.patient_id, token)
    [row] = await Device.select()
    assert not row["active"] and row["deactivated_reason"] == "signed_out"
    await register_device(b.patient_id, token=token, platform="ios", app_version="3", locale="en")
    [row] = await Device.select()
    assert row["active"] and row["deactivated_at"] is None

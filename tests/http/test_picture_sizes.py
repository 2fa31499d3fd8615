"""Pictures in the sizes a phone needs, on the media directory and on the object store (a
real S3-compatible server on loopback): the app gets each size's pixels and a short-lived
link, and downloads a thumbnail, not the 15 MB X-ray; pictures stored before sizes get
theirs from `plantrack media-sizes`; `plantrack backup-media` and `restore-media` copy
the store and put it back."""

import hashlib
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from msgspec.structs import replace
from PIL import Image

from backend.runtime.ids import new_id
from backend.services.picture_copies import make_copies
from backend.store import media
from tests.conftest import new_bucket
from tests.factories import NOW, make_clinic, make_referral
from tests.http.patient_client import sign_in
from tests.pictures import (
    ON_BOTH_STORES,
    attach_picture,
    fetch_picture,
    files_of,
    plantrack,
    stored,
)

PHONE = "+79165550101"


def xray(width: int = 3000, height: int = 1500) -> bytes:
    """A panoramic X-ray's shape: grey, with detail (a gradient and bands)."""
    image = Image.linear_gradient("L").resize((width, height))
    for x in range(0, width, 97):
        image.paste(255 - (x % 256), (x, 0, x + 20, height))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()


async def listed(client, headers, referral_id) -> list[dict]:
    answer = await client.get(f"/api/v1/me/referrals/{referral_id}/media", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


@ON_BOTH_STORES
async def test_the_app_gets_each_size_with_its_pixels_and_a_link(client, db, media_backend):
    sent = await make_referral(await make_clinic(), phone=PHONE)
    original = xray()
    await attach_picture(db, sent.referral_id, kind="xray", data=original)
    me = await sign_in(client, PHONE, invite_code=sent.invite_code)
    [picture] = await listed(client, me.headers, sent.referral_id)

    assert (picture["width"], picture["height"]) == (3000, 1500)
    sizes = picture["sizes"]
    expected = {"thumb": (320, 160), "screen": (1600, 800), "original": (3000, 1500)}
    fetched = {}
    for name, (width, height) in expected.items():
        size = sizes[name]
        assert (size["width"], size["height"]) == (width, height)
        links = [(size["url"], size["content_type"])]
        if name != "original":
            assert size["content_type"] == "image/webp"
            assert size["fallback_content_type"] == "image/jpeg"
            links.append((size["fallback_url"], size["fallback_content_type"]))
        for url, content_type in links:
            if media_backend == "s3":
                # Straight from the store, presigned for ten minutes.
                assert url.startswith(db.s3_endpoint_url + "/")
                assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["600"]
            else:
                assert url.startswith(f"/media/{picture['id']}?")
            got = await fetch_picture(client, url)
            assert got.status_code == 200, (url, got.text[:300])
            assert got.headers["content-type"] == content_type
            image = Image.open(io.BytesIO(got.content))
            assert image.size == (width, height)
            assert image.format == {"image/webp": "WEBP", "image/jpeg": "JPEG"}[content_type]
            fetched[(name, content_type)] = len(got.content)
    # What a list of thumbnails costs against the X-ray itself.
    thumb = fetched[("thumb", "image/webp")]
    print(f"\n{media_backend}: original {len(original)} B, stored {fetched}")
    assert thumb * 20 < fetched[("original", "image/jpeg")]
    assert fetched[("screen", "image/webp")] < fetched[("original", "image/jpeg")]

    if media_backend == "local":
        # A link changed by a character opens nothing. (The object store checks its own
        # signatures; moto's server does not, unless its IAM emulation is switched on.)
        url = sizes["thumb"]["url"]
        tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
        assert (await fetch_picture(client, tampered)).status_code == 404
    one = await client.get(f"/api/v1/me/media/{picture['id']}", headers=me.headers)
    assert one.status_code == 200 and one.json()["sizes"]["thumb"]["width"] == 320


def test_copies_of_a_16_bit_xray_and_a_transparent_png_are_displayable():
    grey16 = Image.linear_gradient("L").resize((800, 400)).convert("I;16")
    grey16 = grey16.point(lambda v: v * 256)
    t_webp, _, _, s_jpeg = make_copies(grey16)
    assert (t_webp.width, t_webp.height, s_jpeg.width) == (320, 160, 800)  # never enlarged
    shown = Image.open(io.BytesIO(s_jpeg.data)).convert("L")
    # Scaled down to 8 bits, not clipped: dark stays dark and bright bright.
    darkest, brightest = shown.getextrema()
    assert darkest < 20 and brightest > 230
    clear = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    copies = {(c.name, c.format): c for c in make_copies(clear)}
    jpeg = Image.open(io.BytesIO(copies[("thumb", "jpeg")].data)).convert("RGB")
    assert jpeg.getpixel((50, 50)) == (255, 255, 255)  # transparency on white
    webp = Image.open(io.BytesIO(copies[("thumb", "webp")].data))
    assert webp.mode == "RGBA"


@ON_BOTH_STORES
async def test_pictures_stored_before_sizes_get_them_from_plantrack_media_sizes(client, db):
    sent = await make_referral(await make_clinic(), phone=PHONE)
    files = files_of(db)
    # As a picture was stored before sizes: the original only, no pixels, no copies.
    media_id, data = new_id(), xray(2000, 1000)
    key = f"{sent.referral_id}/{media_id}.jpg"
    await files.put(key, data, "image/jpeg")
    await media.insert(
        media_id=media_id,
        referral_id=sent.referral_id,
        kind="xray",
        phase="before",
        tooth=None,
        caption="",
        storage_key=key,
        content_type="image/jpeg",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        now=NOW,
    )
    me = await sign_in(client, PHONE, invite_code=sent.invite_code)
    [before] = await listed(client, me.headers, sent.referral_id)
    # Until the command runs, every size is the original, its pixels not known.
    assert before["width"] is None
    assert before["sizes"]["thumb"]["width"] is None
    assert before["sizes"]["thumb"]["content_type"] == "image/jpeg"
    assert before["sizes"]["thumb"]["fallback_url"] is None
    got = await fetch_picture(client, before["sizes"]["thumb"]["url"])
    assert got.status_code == 200 and got.content == data

    assert "pictures given their sizes: 1" in await plantrack(db, "media-sizes")
    assert "pictures given their sizes: 0" in await plantrack(db, "media-sizes")  # once
    [after] = await listed(client, me.headers, sent.referral_id)
    assert (after["width"], after["height"]) == (2000, 1000)
    assert (after["sizes"]["thumb"]["width"], after["sizes"]["screen"]["width"]) == (320, 1600)
    thumb = await fetch_picture(client, after["sizes"]["thumb"]["url"])
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 160)
    assert len(await files.objects()) == 5


@ON_BOTH_STORES
async def test_a_media_backup_holds_every_object_and_restores_into_an_empty_store(
    db, tmp_path: Path, media_backend
):
    sent = await make_referral(await make_clinic(), phone=PHONE)
    await attach_picture(db, sent.referral_id, kind="xray", data=xray(900, 600))
    before = await stored(db)
    assert len(before) == 5
    target = tmp_path / "media-backup"
    assert "pictures copied: 5; already in the backup: 0" in await plantrack(
        db, "backup-media", str(target)
    )
    # Again: nothing new to fetch.
    assert "pictures copied: 0; already in the backup: 5" in await plantrack(
        db, "backup-media", str(target)
    )
    assert {p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*.*")} == before

    # Into an empty store of the same kind (a new bucket, or a new directory).
    if media_backend == "s3":
        empty = replace(db, media_url=f"s3://{new_bucket(db.s3_endpoint_url)}/restored")
    else:
        empty = replace(db, media_dir=str(tmp_path / "restored-media"))
    assert await stored(empty) == {}
    assert "pictures restored: 5" in await plantrack(empty, "restore-media", str(target))
    assert await stored(empty) == before

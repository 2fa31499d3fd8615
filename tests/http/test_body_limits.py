"""Bodies over a route's limit are refused with 413 before anything is read or written:
1 MiB by default, 15 MB for pictures, 256 KiB for clinic systems' deliveries, 4 MiB for
price lists and plan imports."""

import io
import json
import os

from PIL import Image

from backend.domain.roles import Role
from backend.routes.staff_examples import PRICES_IN
from backend.store.tables import Inbox, Media, PriceEntry
from tests.factories import make_clinic, make_referral
from tests.http.integration_client import connect, inbound_path
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.problems import assert_problem
from tests.http.staff_client import make_staff, sign_in
from tests.pictures import ON_BOTH_STORES, files_of

MiB = 1024 * 1024


def padded(payload: dict, size: int) -> bytes:
    """Valid JSON of exactly `size` bytes: the payload, then whitespace."""
    body = json.dumps(payload).encode()
    return body + b" " * (size - len(body))


def assert_too_large(response) -> None:
    assert_problem(response, 413)
    assert response.json()["status"] == 413


async def test_default_limit_is_one_mebibyte(client, db):
    clinic_id = await make_clinic()
    sent = await make_referral(clinic_id, phone="+79161110002")
    patient = await patient_sign_in(client, "+79161110002", sent.invite_code)
    headers = {**patient.headers, "content-type": "application/json"}
    fits = await client.patch("/api/v1/me", headers=headers, content=padded({"locale": "en"}, MiB))
    assert fits.status_code == 200, fits.text
    over = await client.patch(
        "/api/v1/me", headers=headers, content=padded({"locale": "ru"}, MiB + 1)
    )
    assert_too_large(over)
    me = await client.get("/api/v1/me", headers=patient.headers)
    assert me.json()["locale"] == "en"  # the refused change was not written


async def test_a_body_without_content_length_is_counted_as_it_streams(client, db):
    async def chunks():
        yield b'{"firebase_id_token": "'
        for _ in range(5):
            yield b"x" * (MiB // 4)
        yield b'"}'

    response = await client.post(
        "/api/v1/auth/patient", headers={"content-type": "application/json"}, content=chunks()
    )
    assert_too_large(response)


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: random pixels, about 3 bytes a pixel."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=0)
    return out.getvalue()


@ON_BOTH_STORES
async def test_pictures_may_be_up_to_fifteen_megabytes(client, db):
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    sent = await make_referral(await make_clinic(), phone="+79161110003")
    url = f"/api/v1/exchange/referrals/{sent.referral_id}/media"
    form = {"kind": "photo", "phase": "before"}

    picture = noise_png(800)  # ~1.9 MB: over the default limit, within the pictures'
    assert MiB < len(picture) < 15 * MiB
    stored = await client.post(
        url, headers=operator.headers, data=form, files={"file": ("a.png", picture, "image/png")}
    )
    assert stored.status_code == 201, stored.text

    huge = noise_png(2300)  # ~15.9 MB
    assert len(huge) > 15 * MiB + 64 * 1024
    refused = await client.post(
        url, headers=operator.headers, data=form, files={"file": ("b.png", huge, "image/png")}
    )
    assert_too_large(refused)
    assert await Media.count() == 1
    # The first only: as uploaded, and its four copies (two sizes, WebP and JPEG).
    assert len(await files_of(db).objects()) == 5


async def test_deliveries_from_clinic_systems_stop_at_256_kib(client, db):
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    configured = await connect(client, operator.headers, await make_clinic(), {"system": "webhook"})
    path = inbound_path(configured)
    body = padded(
        {"type": "contacted", "timestamp": "2026-01-01T00:00:00Z", "data": {}}, 256 * 1024 + 1
    )
    response = await client.post(path, content=body, headers={"content-type": "application/json"})
    assert_too_large(response)
    assert await Inbox.count() == 0  # not even stored raw


async def test_price_lists_may_be_up_to_four_mebibytes(client, db):
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    headers = {**operator.headers, "content-type": "application/json"}
    saved = await client.put(
        "/api/v1/exchange/prices", headers=headers, content=padded(PRICES_IN, 3 * MiB)
    )
    assert saved.status_code == 200, saved.text
    before = await PriceEntry.count()
    changed = {"entries": [{**PRICES_IN["entries"][0], "price": 1}]}
    refused = await client.put(
        "/api/v1/exchange/prices", headers=headers, content=padded(changed, 4 * MiB + 1)
    )
    assert_too_large(refused)
    assert await PriceEntry.count() == before
    prices = await client.get("/api/v1/exchange/prices", headers=operator.headers)
    assert 1 not in [p["price"] for p in prices.json()["items"]]

    imported = await client.post(
        "/api/v1/exchange/referrals/import", headers=headers, content=padded({}, 4 * MiB + 1)
    )
    assert_too_large(imported)

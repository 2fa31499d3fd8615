"""Every patient GET answers with a strong ETag and Cache-Control: private, no-cache;
If-None-Match with it is a 304 with no body, until the answer changes. The plan PDF
and the data export opt out (made afresh each time; a download not to be kept)."""

import time

import pytest

from backend.routes.patient import LINK_SLOT_S, router
from tests.http.patient_world import ME, patient_world

GETS = {
    "/": "application/json",
    "/referrals": "application/json",
    "/referrals/{referral_id}": "application/json",
    "/referrals/{referral_id}/teeth": "application/json",
    "/referrals/{referral_id}/teeth.svg": "image/svg+xml",
    "/referrals/{referral_id}/media": "application/json",
    "/media/{media_id}": "application/json",
    "/questions": "application/json",
    "/changes": "application/json",
}
NO_ETAG = {"/referrals/{referral_id}/plan.pdf", "/export"}


def test_every_patient_get_is_here():
    gets = {
        route.path_format.removeprefix(ME) or "/"
        for route in router.routes
        if "GET" in getattr(route, "methods", ())
    }
    assert gets == set(GETS) | NO_ETAG


def _slot() -> int:
    return int(time.time() // LINK_SLOT_S)


@pytest.mark.parametrize("template", sorted(GETS))
async def test_an_unchanged_answer_is_a_304(client, db, template):
    world = await patient_world(client, db)
    url, h = world.path(template.rstrip("/")), world.me.headers
    for _ in range(3):  # picture links change at five-minute slots: both reads in one slot
        slot = _slot()
        first = await client.get(url, headers=h)
        again = await client.get(url, headers={**h, "If-None-Match": first.headers["etag"]})
        if _slot() == slot:
            break
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith(GETS[template])
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 34
    expected = "private, max-age=60" if template.endswith(".svg") else "private, no-cache"
    assert first.headers["cache-control"] == expected
    assert again.status_code == 304, again.text
    assert again.content == b"" and again.headers["etag"] == tag
    assert again.headers["cache-control"] == expected
    assert "content-type" not in again.headers
    # A list of tags, a weak one among them, is compared weakly (RFC 9110).
    listed = await client.get(url, headers={**h, "If-None-Match": f'"other", W/{tag}'})
    assert listed.status_code == 304 or _slot() != slot
    stale = await client.get(url, headers={**h, "If-None-Match": '"not-the-tag"'})
    assert stale.status_code == 200 and stale.content


async def test_a_changed_answer_gets_a_new_tag(client, db):
    world = await patient_world(client, db)
    h = world.me.headers
    urls = [world.path(t) for t in ("/referrals/{referral_id}", "/questions", "/referrals")]
    before = {url: (await client.get(url, headers=h)).headers["etag"] for url in urls}
    answered = await client.post(
        world.path("/questions/{question_id}/answer"), headers=h, json={"answer": "yes"}
    )
    assert answered.status_code == 200
    for url, tag in before.items():
        now = await client.get(url, headers={**h, "If-None-Match": tag})
        assert now.status_code == 200 and now.headers["etag"] != tag, url


async def test_the_language_is_part_of_the_answer(client, db):
    world = await patient_world(client, db)
    h, url = world.me.headers, world.path("/referrals/{referral_id}")
    tag = (await client.get(url, headers=h)).headers["etag"]
    assert (await client.patch(f"{ME}", headers=h, json={"locale": "en"})).status_code == 200
    assert (await client.get(url, headers={**h, "If-None-Match": tag})).status_code == 200


@pytest.mark.parametrize("template", sorted(NO_ETAG))
async def test_downloads_have_no_tag(client, db, template):
    world = await patient_world(client, db)
    got = await client.get(world.path(template), headers=world.me.headers)
    assert got.status_code == 200 and "etag" not in got.headers
    again = await client.get(
        world.path(template), headers={**world.me.headers, "If-None-Match": "*"}
    )
    assert again.status_code == 200


async def test_errors_carry_no_tag(client, db):
    world = await patient_world(client, db)
    missing = await client.get(f"{ME}/referrals/{world.media_id}", headers=world.me.headers)
    assert missing.status_code == 404 and "etag" not in missing.headers
    assert missing.headers["cache-control"] == "no-store"
    unsigned = await client.get(f"{ME}/questions", headers={"If-None-Match": "*"})
    assert unsigned.status_code == 401

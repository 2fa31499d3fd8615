"""X-App-Version: below PLANTRACK_MIN_APP_VERSION the patient API (and the app's sign-in
and refresh) answers 426 with the store links; no header passes (web pages, clients
that cannot be told apart); a malformed version is a 400, minimum or not."""

import msgspec
import pytest

from backend.settings import SettingsError, load_settings
from backend.web.app_version import parse_version
from tests.http.app_with import app_with
from tests.http.patient_client import firebase_token
from tests.http.patient_world import ME, patient_world
from tests.http.problems import assert_problem

STORES = {
    "app_store_url": "https://apps.apple.com/app/plantrack/id000000001",
    "google_play_url": "https://play.google.com/store/apps/details?id=app.plantrack",
}


def test_versions_compare_by_their_numbers():
    assert parse_version("1.4.2") == (1, 4, 2, 0)
    assert parse_version("1.4") == parse_version("1.4.0") < parse_version("1.4.10")
    assert parse_version("2") > parse_version("1.99.99.99")
    for bad in ("", "v1.4.2", "1.4.2-beta", "1..2", "1.2.3.4.5", " ", "1.4.", "１.２"):
        assert parse_version(bad) is None, bad


def test_the_minimum_is_a_version_or_empty(tmp_path):
    env = {"PLANTRACK_VAR_DIR": str(tmp_path)}
    assert load_settings({**env, "PLANTRACK_MIN_APP_VERSION": "1.4"}).min_app_version == "1.4"
    assert load_settings(env).min_app_version == ""
    with pytest.raises(SettingsError, match="PLANTRACK_MIN_APP_VERSION"):
        load_settings({**env, "PLANTRACK_MIN_APP_VERSION": "latest"})


async def test_an_old_app_is_told_to_update(client, db):
    world = await patient_world(client, db)
    async with app_with(db, min_app_version="1.4.0", **STORES) as app:
        h = world.me.headers
        old = await app.get(f"{ME}/referrals", headers={**h, "X-App-Version": "1.3.9"})
        assert_problem(old, 426)
        problem = old.json()
        assert problem["title"] == "Upgrade Required"
        assert problem["store_links"] == {
            "app_store": STORES["app_store_url"],
            "google_play": STORES["google_play_url"],
        }
        assert problem["min_app_version"] == "1.4.0" and problem["app_version"] == "1.3.9"
        assert "Обновите приложение" in problem["detail"]
        english = await app.get(
            f"{ME}/referrals", headers={**h, "X-App-Version": "1.3", "Accept-Language": "en"}
        )
        assert english.status_code == 426 and "update the app" in english.json()["detail"]

        # Before anything else: no key is taken, no sign-in is tried.
        posted = await app.post(
            world.path("/questions/{question_id}/answer"),
            headers={**h, "X-App-Version": "1.0.0", "Idempotency-Key": "k-old-app"},
            json={"answer": "yes"},
        )
        assert posted.status_code == 426
        signed = await app.post(
            "/api/v1/auth/patient",
            headers={"X-App-Version": "1.0.0"},
            json={"firebase_id_token": firebase_token("+79161230044")},
        )
        assert signed.status_code == 426

        for fine in ("1.4.0", "1.4", "1.4.2", "2.0.0.1"):
            ok = await app.get(f"{ME}/referrals", headers={**h, "X-App-Version": fine})
            assert ok.status_code == 200, fine
        # No header: served (the web pages and old clients cannot be told apart).
        assert (await app.get(f"{ME}/referrals", headers=h)).status_code == 200
        # The staff API is not the app's: no gate there.
        staff = await app.get("/api/v1/clinic/referrals", headers={"X-App-Version": "0.1"})
        assert staff.status_code == 401


async def test_a_malformed_version_is_a_400_minimum_or_not(client, db):
    world = await patient_world(client, db)
    h = {**world.me.headers, "X-App-Version": "1.4.2 (build 77)"}
    refused = await client.get(f"{ME}/referrals", headers=h)
    assert refused.status_code == 400 and "X-App-Version" in refused.json()["detail"]
    async with app_with(db, min_app_version="1.4.0") as app:
        assert (await app.get(f"{ME}/referrals", headers=h)).status_code == 400


async def test_no_minimum_serves_every_version(client, db):
    world = await patient_world(client, db)
    assert msgspec.structs.asdict(db)["min_app_version"] == ""
    h = {**world.me.headers, "X-App-Version": "0.0.1"}
    assert (await client.get(f"{ME}/referrals", headers=h)).status_code == 200

"""Security headers on every answer, and CORS only for the app's own origins."""

import re
from pathlib import Path

from backend.app import ADMIN_DIR
from tests.factories import make_clinic, make_referral
from tests.http.app_with import app_with
from tests.http.patient_client import sign_in

APP_ORIGIN = "https://app.plantrack.test"
FOREIGN = "https://evil.example"


def assert_hardened(response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_every_answer_is_hardened_and_no_hsts_outside_production(client, db):
    for path in ("/health", "/api/v1/me", "/no/such/route", "/admin/login", "/schema/openapi.json"):
        response = await client.get(path)
        assert_hardened(response)
        assert "strict-transport-security" not in response.headers, path


async def test_production_answers_carry_hsts(db):
    async with app_with(db, env="prod") as client:
        response = await client.get("/health")
    assert_hardened(response)
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")


async def test_personal_answers_are_never_kept_by_shared_caches(client, db):
    clinic_id = await make_clinic()
    sent = await make_referral(clinic_id, phone="+79161110001")
    patient = await sign_in(client, "+79161110001", sent.invite_code)
    # The patient's own GETs: the app (a private cache) may keep them with their ETag and
    # must ask again before using them (tests/http/test_patient_etags.py); no proxy may.
    for path in ("/api/v1/me", "/api/v1/me/referrals", f"/api/v1/me/referrals/{sent.referral_id}"):
        response = await client.get(path, headers=patient.headers)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "private, no-cache", path
    export = await client.get("/api/v1/me/export", headers=patient.headers)
    assert export.headers["cache-control"] == "no-store"
    refused = await client.get("/api/v1/me")  # errors about personal routes too
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "no-store"


async def test_admin_pages_work_under_their_content_policy(client, db):
    page = await client.get("/admin/login")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert "script-src" not in csp  # no scripts allowed at all
    html = page.text
    # Nothing the policy would block: no scripts, no inline styles, stylesheets are ours.
    assert "<script" not in html.lower()
    assert not re.search(r"<style|\sstyle=", html, re.IGNORECASE)
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert sheets and all(href.startswith("/admin/static/") for href in sheets)
    css = await client.get(sheets[0])
    assert css.status_code == 200
    assert_hardened(css)
    assert "url(http" not in css.text  # no foreign fonts or images the policy would block


def test_admin_templates_use_no_inline_scripts_or_styles():
    for template in Path(ADMIN_DIR, "templates").glob("*.html"):
        text = template.read_text()
        assert "<script" not in text.lower(), template.name
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text, re.IGNORECASE), template.name


async def test_no_cors_for_anyone_by_default(client, db):
    response = await client.get("/health", headers={"Origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_answers_only_the_apps_origins(db):
    async with app_with(db, cors_origins=(APP_ORIGIN,)) as client:
        ours = await client.get("/health", headers={"Origin": APP_ORIGIN})
        foreign = await client.get("/health", headers={"Origin": FOREIGN})
        preflight = {"Access-Control-Request-Method": "POST"}
        ours_pre = await client.options(
            "/api/v1/auth/patient", headers={"Origin": APP_ORIGIN, **preflight}
        )
        foreign_pre = await client.options(
            "/api/v1/auth/patient", headers={"Origin": FOREIGN, **preflight}
        )
    assert ours.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-origin" not in foreign.headers
    assert ours_pre.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-origin" not in foreign_pre.headers
    assert foreign_pre.status_code >= 400

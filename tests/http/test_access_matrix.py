"""Every route of the app × every kind of caller × own or another tenant's objects.

The expected answer of each cell is written down here (`ROUTES`, read through
`expected`), and the test asks every cell over HTTP. Paths always name objects of
"world A" (patient A's referral at clinic A, its question, appointment, picture,
device); patient B and clinic B's staff must get 404 for them, the exchange sees
everything, and a role not meant for a route gets 403 (401 without a fitting token).
A route added to the app without a row here fails `test_every_route_is_in_the_matrix`.

Refusals change nothing: before a route's allowed callers go, the rows a refused
call could have written are compared with how they were.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

from admin.views import COOKIE
from backend.domain.roles import Role
from backend.routes import patient_examples as pex
from backend.routes import settings as settings_routes
from backend.routes import staff_examples as sex
from backend.runtime.clock import utcnow
from backend.services.visit_codes import issue_code
from backend.store.parties import staff_by_email
from backend.store.tables import (
    Appointment,
    Clinic,
    ContactRating,
    Device,
    Event,
    Media,
    Patient,
    Plan,
    Referral,
    StaffUser,
)
from tests.factories import book, make_clinic, make_referral
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in
from tests.pictures import attach_picture, png

COORD, MANAGER, OPERATOR, ANALYST, HEALTH = (
    Role.clinic_coordinator,
    Role.clinic_manager,
    Role.exchange_operator,
    Role.exchange_analyst,
    Role.health_analyst,
)
CLINIC_STAFF = frozenset({COORD, MANAGER})
EXCHANGE = frozenset({OPERATOR, ANALYST})
ALL_STAFF = frozenset({COORD, MANAGER, OPERATOR, ANALYST, HEALTH})

# How a route knows its caller.
PUBLIC = "public"  # nobody is refused (sign-in, health, documentation, static files)
PATIENT = "patient"  # a patient's bearer token
STAFF = "staff"  # a staff session's bearer token
ADMIN = "admin"  # the admin pages' session cookie
CAPABILITY = "capability"  # a secret in the URL: a made-up one is 404 for everybody

# Whose is the object in the path.
OWN_PATIENT = "patient"  # patient A's: patient B gets 404
OWN_CLINIC = "clinic"  # clinic A's: clinic B's staff get 404
NOBODY = "missing"  # an id that exists nowhere: whoever may call gets 404


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    auth: str
    roles: frozenset[Role] = frozenset()
    scope: str | None = None
    body: Any = None
    form: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    query: str = ""
    # Asked after the others: 1 changes the world (archive, transfer), 2 ends the session.
    last: int = 0
    refuse: int = 404  # what a made-up capability gets
    # What an allowed caller gets, when it is not simply "success".
    ok: frozenset[int] = field(default=frozenset())


def R(method: str, path: str, auth: str, roles=(), **kw: Any) -> Route:
    return Route(method, path, auth, frozenset(roles), **kw)


API = "/api/v1"
PNG = "png"  # replaced by a small picture when asked
ROUTES: list[Route] = [
    # --- public ------------------------------------------------------------------------
    R("GET", "/health", PUBLIC),
    R("GET", "/ready", PUBLIC),
    R("POST", f"{API}/auth/patient", PUBLIC, body={"firebase_id_token": "x" * 40}, ok={401}),
    R("POST", f"{API}/auth/refresh", PUBLIC, body={"refresh_token": "x" * 40}, ok={401}),
    R(
        "POST",
        f"{API}/auth/staff",
        PUBLIC,
        body={"email": "a@b.c", "password": "x", "totp": ""},
        ok={401, 429},  # failed sign-ins from one address are throttled
    ),
    *(
        R("GET", f"/schema{p}", PUBLIC)
        for p in (
            "",
            "/openapi.json",
            "/openapi.yaml",
            "/openapi.yml",
            "/swagger",
            "/redoc",
            "/rapidoc",
            "/elements",
            "/oauth2-redirect.html",
        )
    ),
    R("GET", "/schema/{path}", PUBLIC, ok={200, 404}),
    R("GET", "/admin/static/{file_path}", PUBLIC),
    R("GET", "/admin/login", PUBLIC),
    R("POST", "/admin/login", PUBLIC, form={"email": "a@b.c", "password": "x"}),
    R("GET", "/admin/lang/{lang}", PUBLIC, ok={302, 303}),
    # --- capabilities: a secret in the URL ------------------------------------------------
    R("GET", "/media/{media_id}", CAPABILITY, query="?exp=4102444800&sig=" + "0" * 43),
    # A CRM's webhook with a token we never issued: refused, and kept for the inbox page.
    R("POST", "/integrations/bitrix24/{token}", CAPABILITY, form={"event": "x"}, refuse=403),
    R("POST", "/integrations/amocrm/{token}", CAPABILITY, form={"leads": "1"}, refuse=403),
    R("POST", "/integrations/webhooks/{token}", CAPABILITY, body={"type": "x"}, refuse=403),
    R("GET", "/integrations/ident/{token}/GetTickets", CAPABILITY, refuse=401),
    R("POST", "/integrations/ident/{token}/PostTimeTable", CAPABILITY, body=[], refuse=401),
    # The patient's web page behind an SMS link: a link never issued is the same plain
    # 404 for everybody, whatever else they hold (tests/http/test_patient_web.py walks a
    # real link, and another referral's objects through it).
    R("GET", "/p/{link_token}", CAPABILITY),
    R("GET", "/p/{link_token}/q/{question_id}", CAPABILITY),
    R("POST", "/p/{link_token}/q/{question_id}", CAPABILITY, form={"answer": "yes"}),
    R(
        "POST",
        "/p/{link_token}/appointments/{appointment_id}",
        CAPABILITY,
        form={"response": "confirm"},
    ),
    R("POST", "/p/{link_token}/rating", CAPABILITY, form={"called": "yes", "stars": "5"}),
    R("POST", "/p/{link_token}/variant", CAPABILITY, form={"variant": "A"}),
    R("GET", "/p/{link_token}/plan", CAPABILITY),
    R("POST", "/p/{link_token}/code", CAPABILITY, form={}),
    R("POST", "/p/{link_token}/session", CAPABILITY, form={"code": "123456"}),
    R("POST", "/p/{link_token}/sign-out", CAPABILITY, form={}),
    # --- the patient app -------------------------------------------------------------------
    R("GET", f"{API}/me", PATIENT),
    R("PATCH", f"{API}/me", PATIENT, body=pex.PROFILE_CHANGE),
    R("PUT", f"{API}/me/devices", PATIENT, body=pex.DEVICE_IN),
    R("GET", f"{API}/me/referrals", PATIENT),
    R("GET", f"{API}/me/changes", PATIENT),
    R("GET", f"{API}/me/referrals/{{referral_id}}", PATIENT, scope=OWN_PATIENT),
    R("GET", f"{API}/me/referrals/{{referral_id}}/teeth.svg", PATIENT, scope=OWN_PATIENT),
    R("GET", f"{API}/me/referrals/{{referral_id}}/teeth", PATIENT, scope=OWN_PATIENT),
    R("GET", f"{API}/me/referrals/{{referral_id}}/media", PATIENT, scope=OWN_PATIENT),
    R("GET", f"{API}/me/referrals/{{referral_id}}/plan.pdf", PATIENT, scope=OWN_PATIENT),
    # The world's plan offers no options: reaching the rule (422) is the patient's own answer.
    R(
        "POST",
        f"{API}/me/referrals/{{referral_id}}/variant",
        PATIENT,
        scope=OWN_PATIENT,
        body={"variant": "B"},
        ok={422},
    ),
    R("GET", f"{API}/me/media/{{media_id}}", PATIENT, scope=OWN_PATIENT),
    R("GET", f"{API}/me/questions", PATIENT),
    R(
        "POST",
        f"{API}/me/questions/{{question_id}}/answer",
        PATIENT,
        scope=OWN_PATIENT,
        body=pex.ANSWER_IN,
    ),
    R(
        "POST",
        f"{API}/me/referrals/{{referral_id}}/contact-rating",
        PATIENT,
        scope=OWN_PATIENT,
        body=pex.RATING_IN,
    ),
    R(
        "POST",
        f"{API}/me/appointments/{{appointment_id}}/response",
        PATIENT,
        scope=OWN_PATIENT,
        body=pex.APPOINTMENT_IN,
    ),
    R(
        "POST",
        f"{API}/me/referrals/{{referral_id}}/visit-code",
        PATIENT,
        scope=OWN_PATIENT,
        body={"code": "{visit_code}"},
    ),
    R(
        "POST",
        f"{API}/me/referrals/{{referral_id}}/reports",
        PATIENT,
        scope=OWN_PATIENT,
        body={"kind": "contacted"},
    ),
    # The receipt's payment does not exist: refused as unreadable for the owner (422).
    R(
        "POST",
        f"{API}/me/referrals/{{referral_id}}/receipts",
        PATIENT,
        scope=OWN_PATIENT,
        body=pex.RECEIPT_IN,
        ok={200, 422},
    ),
    R("GET", f"{API}/me/export", PATIENT),
    # Not confirmed, so nobody is erased here (tests/http/test_privacy.py erases).
    R("POST", f"{API}/me/erasure", PATIENT, body={"confirm": "no"}, ok={400}),
    R("DELETE", f"{API}/me/devices/{{device_token}}", PATIENT, scope=OWN_PATIENT, last=1),
    R("POST", f"{API}/auth/logout", PATIENT, last=2),
    # --- clinic staff --------------------------------------------------------------------
    R("GET", f"{API}/clinic/referrals", STAFF, CLINIC_STAFF),
    R("GET", f"{API}/clinic/referrals/{{referral_id}}", STAFF, CLINIC_STAFF, scope=OWN_CLINIC),
    R(
        "GET",
        f"{API}/clinic/referrals/{{referral_id}}/timeline",
        STAFF,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
    ),
    R(
        "POST",
        f"{API}/clinic/referrals/{{referral_id}}/claims",
        STAFF,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
        body={"kind": "received"},
    ),
    R(
        "PUT",
        f"{API}/clinic/referrals/{{referral_id}}/plan",
        STAFF,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
        body={"reason": "matrix", "items": [{"specialization": "therapy", "price": 100_00}]},
    ),
    R(
        "POST",
        f"{API}/clinic/referrals/{{referral_id}}/visit-code",
        STAFF,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
    ),
    R("GET", f"{API}/clinic/funnel", STAFF, {MANAGER}),
    R("GET", f"{API}/clinic/funnel/cohorts", STAFF, {MANAGER}),
    R("GET", f"{API}/clinic/funnel/plan-vs-fact", STAFF, {MANAGER}),
    R("GET", f"{API}/clinic/funnel/specializations", STAFF, {MANAGER}),
    R("GET", f"{API}/clinic/funnel/reasons", STAFF, {MANAGER}),
    R("GET", f"{API}/clinic/funnel/conversion", STAFF, {MANAGER}),
    R("GET", f"{API}/clinic/settings", STAFF, {MANAGER}),
    R("PATCH", f"{API}/clinic/settings", STAFF, {MANAGER}, body=settings_routes.CHANGE_EXAMPLE),
    R("PUT", f"{API}/clinic/settings/norms", STAFF, {MANAGER}, body=settings_routes.NORMS_EXAMPLE),
    R("GET", f"{API}/clinic/ratings", STAFF, {MANAGER}),
    R("GET", f"{API}/clinic/nobody-called", STAFF, CLINIC_STAFF),
    R("GET", f"{API}/clinic/follow-up", STAFF, CLINIC_STAFF),
    # --- the clinic's worklist, disputes, scorecard and alerts (issue 20) -----------------
    R("GET", f"{API}/clinic/worklist", STAFF, CLINIC_STAFF),
    R(
        "POST",
        f"{API}/clinic/referrals/{{referral_id}}/outcomes",
        STAFF,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
        body={"outcome": "note", "note": "matrix"},
    ),
    R(
        "GET",
        f"{API}/clinic/referrals/{{referral_id}}/calls",
        STAFF,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
    ),
    R("GET", f"{API}/clinic/disputes", STAFF, CLINIC_STAFF),
    R(
        "POST",
        f"{API}/clinic/disputes/{{missing_id}}/answer",
        STAFF,
        CLINIC_STAFF,
        scope=NOBODY,
        body={"note": "matrix"},
    ),
    R("GET", f"{API}/clinic/scorecard", STAFF, {MANAGER}),
    R("GET", f"{API}/clinic/alerts", STAFF, CLINIC_STAFF),
    R("GET", f"{API}/staff/alert-preferences", STAFF, ALL_STAFF),
    R("PUT", f"{API}/staff/alert-preferences", STAFF, ALL_STAFF, body={"digest": True}),
    # --- the exchange --------------------------------------------------------------------
    R("GET", f"{API}/exchange/clinics", STAFF, EXCHANGE),
    R("POST", f"{API}/exchange/clinics", STAFF, {OPERATOR}, body=sex.CLINIC_IN),
    R("GET", f"{API}/exchange/clinics/{{clinic_id}}", STAFF, EXCHANGE),
    R("PATCH", f"{API}/exchange/clinics/{{clinic_id}}", STAFF, {OPERATOR}, body=sex.CLINIC_CHANGE),
    R(
        "PUT",
        f"{API}/exchange/clinics/{{clinic_id}}/integration",
        STAFF,
        {OPERATOR},
        body={**sex.INTEGRATION_IN, "rest_url": "http://127.0.0.1:9/rest/1/matrix/"},
    ),
    R(
        "GET",
        f"{API}/exchange/clinics/{{clinic_id}}/integration/stages",
        STAFF,
        {OPERATOR},
        ok={503},  # asks the clinic's CRM, which does not answer here
    ),
    R("POST", f"{API}/exchange/clinics/{{spare_clinic_id}}/archive", STAFF, {OPERATOR}, last=1),
    R("POST", f"{API}/exchange/staff", STAFF, {OPERATOR}, body="{staff_in}"),
    R("GET", f"{API}/exchange/staff", STAFF, {OPERATOR}),
    R("POST", f"{API}/exchange/staff/{{spare_staff_id}}/deactivate", STAFF, {OPERATOR}),
    R("POST", f"{API}/exchange/staff/{{spare_staff_id}}/reactivate", STAFF, {OPERATOR}),
    R(
        "POST",
        f"{API}/exchange/staff/{{spare_staff_id}}/password",
        STAFF,
        {OPERATOR},
        body={"password": "p" * 16},
    ),
    R("POST", f"{API}/exchange/staff/{{spare_staff_id}}/authenticator", STAFF, {OPERATOR}),
    R(
        "PATCH",
        f"{API}/exchange/staff/{{spare_staff_id}}",
        STAFF,
        {OPERATOR},
        body={"role": "clinic_manager", "clinic_id": "{clinic_id}"},
    ),
    R("GET", f"{API}/exchange/referrals", STAFF, {OPERATOR}),
    R("POST", f"{API}/exchange/referrals", STAFF, {OPERATOR}, body="{referral_in}"),
    R("GET", f"{API}/exchange/referrals/{{referral_id}}", STAFF, {OPERATOR}),
    R(
        "POST",
        f"{API}/exchange/referrals/{{referral_id}}/media",
        STAFF,
        {OPERATOR},
        files={"file": ("a.png", PNG, "image/png")},
        form={"kind": "photo", "phase": "before"},
    ),
    R(
        "POST",
        f"{API}/exchange/referrals/{{spare_referral_id}}/transfer",
        STAFF,
        {OPERATOR},
        body="{transfer_in}",
        last=1,
    ),
    R(
        "POST",
        f"{API}/exchange/referrals/{{spare_referral_id}}/patient-links/revoke",
        STAFF,
        {OPERATOR},
    ),
    R("GET", f"{API}/exchange/disputes", STAFF, {OPERATOR}),
    R(
        "POST",
        f"{API}/exchange/disputes/{{missing_id}}/resolution",
        STAFF,
        {OPERATOR},
        scope=NOBODY,
        body=sex.RESOLUTION_IN,
    ),
    R("GET", f"{API}/exchange/scorecards", STAFF, EXCHANGE),
    R("GET", f"{API}/exchange/funnel", STAFF, EXCHANGE),
    R("GET", f"{API}/exchange/funnel/cohorts", STAFF, EXCHANGE),
    R("GET", f"{API}/exchange/funnel/plan-vs-fact", STAFF, EXCHANGE),
    R("GET", f"{API}/exchange/funnel/specializations", STAFF, EXCHANGE),
    R("GET", f"{API}/exchange/funnel/reasons", STAFF, EXCHANGE),
    R("GET", f"{API}/exchange/funnel/conversion", STAFF, EXCHANGE),
    R("GET", f"{API}/exchange/settings", STAFF, EXCHANGE),
    R("PATCH", f"{API}/exchange/settings", STAFF, {OPERATOR}, body=settings_routes.CHANGE_EXAMPLE),
    R(
        "PUT",
        f"{API}/exchange/settings/norms",
        STAFF,
        {OPERATOR},
        body=settings_routes.NORMS_EXAMPLE,
    ),
    R("GET", f"{API}/exchange/clinics/{{clinic_id}}/settings", STAFF, EXCHANGE),
    R(
        "PATCH",
        f"{API}/exchange/clinics/{{clinic_id}}/settings",
        STAFF,
        {OPERATOR},
        body=settings_routes.CHANGE_EXAMPLE,
    ),
    R(
        "PUT",
        f"{API}/exchange/clinics/{{clinic_id}}/settings/norms",
        STAFF,
        {OPERATOR},
        body=settings_routes.NORMS_EXAMPLE,
    ),
    R("GET", f"{API}/exchange/audit", STAFF, {OPERATOR}),
    R("GET", f"{API}/exchange/inbox", STAFF, {OPERATOR}),
    R("GET", f"{API}/exchange/inbox/{{missing_delivery}}", STAFF, {OPERATOR}, scope=NOBODY),
    R("POST", f"{API}/exchange/inbox/{{missing_delivery}}/replay", STAFF, {OPERATOR}, scope=NOBODY),
    R("GET", f"{API}/exchange/prices", STAFF, EXCHANGE),
    R("PUT", f"{API}/exchange/prices", STAFF, {OPERATOR}, body=sex.PRICES_IN),
    R("GET", f"{API}/exchange/clinics/{{clinic_id}}/prices", STAFF, EXCHANGE),
    R("PUT", f"{API}/exchange/clinics/{{clinic_id}}/prices", STAFF, {OPERATOR}, body=sex.PRICES_IN),
    R("POST", f"{API}/exchange/referrals/import", STAFF, {OPERATOR}, body="{import_in}"),
    # --- the health department -------------------------------------------------------------
    R("GET", f"{API}/health/aggregates", STAFF, {HEALTH, *EXCHANGE}),
    R("GET", f"{API}/health/prices", STAFF, {HEALTH, *EXCHANGE}),
    R("POST", f"{API}/auth/staff/logout", STAFF, ALL_STAFF, last=2),
    R("GET", f"{API}/clinic/settings/patient-prices", STAFF, CLINIC_STAFF),
    R(
        "GET",
        f"{API}/clinic/referrals/{{referral_id}}/plan.pdf",
        STAFF,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
    ),
    R(
        "POST",
        f"{API}/clinic/referrals/{{referral_id}}/media",
        STAFF,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
        files={"file": ("a.png", PNG, "image/png")},
        form={"kind": "photo", "phase": "after", "tooth": "36"},
    ),
    R("PUT", f"{API}/clinic/settings/patient-prices", STAFF, {MANAGER}, body={"show_prices": True}),
    # --- the admin pages (cookie) ------------------------------------------------------------
    R("GET", "/admin", ADMIN, ALL_STAFF),
    R("GET", "/admin/referrals", ADMIN, {*CLINIC_STAFF, OPERATOR}),
    R("GET", "/admin/referrals/{referral_id}", ADMIN, {*CLINIC_STAFF, OPERATOR}, scope=OWN_CLINIC),
    R(
        "POST",
        "/admin/referrals/{referral_id}/claims",
        ADMIN,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
        form={"kind": "received"},
    ),
    R(
        "POST",
        "/admin/referrals/{referral_id}/visit-code",
        ADMIN,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
        form={},
    ),
    R("GET", "/admin/referrals/{referral_id}/plan", ADMIN, CLINIC_STAFF, scope=OWN_CLINIC),
    R(
        "POST",
        "/admin/referrals/{referral_id}/plan",
        ADMIN,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
        form={"rows": "0", "reason": "matrix"},
    ),
    R("GET", "/admin/calls", ADMIN, CLINIC_STAFF),
    R("GET", "/admin/plan-settings", ADMIN, {MANAGER}),
    R(
        "GET",
        "/admin/referrals/{referral_id}/plan.pdf",
        ADMIN,
        {*CLINIC_STAFF, OPERATOR},
        scope=OWN_CLINIC,
    ),
    R(
        "GET",
        "/admin/referrals/{referral_id}/pictures",
        ADMIN,
        {*CLINIC_STAFF, OPERATOR},
        scope=OWN_CLINIC,
    ),
    R(
        "POST",
        "/admin/referrals/{referral_id}/pictures",
        ADMIN,
        {*CLINIC_STAFF, OPERATOR},
        scope=OWN_CLINIC,
        files={"file": ("a.png", PNG, "image/png")},
        form={"kind": "photo", "phase": "after", "tooth": ""},
    ),
    R("POST", "/admin/plan-settings", ADMIN, {MANAGER}, form={"show_prices": "on"}),
    R("GET", "/admin/follow-up", ADMIN, CLINIC_STAFF),
    R("GET", "/admin/ratings", ADMIN, {MANAGER}),
    R("GET", "/admin/funnel", ADMIN, {MANAGER, *EXCHANGE}),
    R("GET", "/admin/disputes", ADMIN, {OPERATOR}),
    R(
        "POST",
        "/admin/disputes/{missing_id}/resolution",
        ADMIN,
        {OPERATOR},
        scope=NOBODY,
        form={"outcome": "did_not_happen"},
    ),
    R("GET", "/admin/scorecards", ADMIN, EXCHANGE),
    R("GET", "/admin/clinics", ADMIN, {OPERATOR}),
    R("POST", "/admin/clinics", ADMIN, {OPERATOR}, form={"name": "Новая", "city": "Москва"}),
    R("POST", "/admin/clinics/{spare_clinic_id}/archive", ADMIN, {OPERATOR}, form={}, last=1),
    R("GET", "/admin/conversion", ADMIN, {MANAGER, *EXCHANGE}),
    R("GET", "/admin/settings", ADMIN, {MANAGER, OPERATOR}),
    R("POST", "/admin/settings", ADMIN, {MANAGER, OPERATOR}, form={"sender_name": "Ulybka"}),
    R("POST", "/admin/settings/norms", ADMIN, {MANAGER, OPERATOR}, form={}),
    R("GET", "/admin/clinics/{clinic_id}/settings", ADMIN, {OPERATOR}),
    R(
        "POST",
        "/admin/clinics/{clinic_id}/settings",
        ADMIN,
        {OPERATOR},
        form={"first_contact_sla_minutes": "180"},
    ),
    R("POST", "/admin/clinics/{clinic_id}/settings/norms", ADMIN, {OPERATOR}, form={}),
    R("GET", "/admin/staff", ADMIN, {OPERATOR}),
    R(
        "POST",
        "/admin/staff",
        ADMIN,
        {OPERATOR},
        form={"email": "x@y.z", "role": "clinic_coordinator", "password": "p" * 16},
    ),
    R("GET", "/admin/referrals/new", ADMIN, {OPERATOR}),
    R(
        "POST",
        "/admin/referrals/new",
        ADMIN,
        {OPERATOR},
        form={"phone": "+79160000001", "clinic": "{clinic_id}", "items": "therapy;1000"},
    ),
    R("GET", "/admin/audit", ADMIN, {OPERATOR}),
    R("GET", "/admin/integrations", ADMIN, {OPERATOR}),
    R("GET", "/admin/integrations/{clinic_id}", ADMIN, {OPERATOR}),
    # Form values are formatted with the ids: "{{}}" is "{}".
    R("POST", "/admin/integrations/{clinic_id}", ADMIN, {OPERATOR}, form={"body": "{{}}"}),
    R(
        "POST",
        "/admin/integrations/{missing_clinic_id}/maps",
        ADMIN,
        {OPERATOR},
        scope=NOBODY,
        form={"stage_map": "{{}}", "fields": "{{}}"},
    ),
    R("GET", "/admin/inbox", ADMIN, {OPERATOR}),
    R("GET", "/admin/inbox/{missing_delivery}", ADMIN, {OPERATOR}, scope=NOBODY),
    R("POST", "/admin/inbox/{missing_delivery}/replay", ADMIN, {OPERATOR}, scope=NOBODY, form={}),
    R("GET", "/admin/prices", ADMIN, {OPERATOR}),
    R("POST", "/admin/prices", ADMIN, {OPERATOR}, form={"body": '{{"entries": []}}'}),
    R("GET", "/admin/import", ADMIN, {OPERATOR}),
    # An empty analysis: the form comes back with what is wrong (422), nothing imported.
    R("POST", "/admin/import", ADMIN, {OPERATOR}, form={"body": "{{}}"}, ok={422}),
    R("GET", "/admin/worklist", ADMIN, CLINIC_STAFF),
    R(
        "POST",
        "/admin/worklist/{referral_id}",
        ADMIN,
        CLINIC_STAFF,
        scope=OWN_CLINIC,
        form={"outcome": "note", "note": "matrix"},
    ),
    R("GET", "/admin/clinic-disputes", ADMIN, CLINIC_STAFF),
    R(
        "POST",
        "/admin/clinic-disputes/{missing_id}/answer",
        ADMIN,
        CLINIC_STAFF,
        scope=NOBODY,
        form={"note": "matrix"},
    ),
    R("GET", "/admin/scorecard", ADMIN, {MANAGER}),
    R("GET", "/admin/alerts", ADMIN, ALL_STAFF),
    R("POST", "/admin/alerts", ADMIN, ALL_STAFF, form={"email": "on"}),
    R("POST", "/admin/staff/{spare_staff_id}/deactivate", ADMIN, {OPERATOR}, form={}),
    R("POST", "/admin/staff/{spare_staff_id}/reactivate", ADMIN, {OPERATOR}, form={}),
    R(
        "POST",
        "/admin/staff/{spare_staff_id}/password",
        ADMIN,
        {OPERATOR},
        form={"password": "p" * 16},
    ),
    R("POST", "/admin/staff/{spare_staff_id}/authenticator", ADMIN, {OPERATOR}, form={}),
    R(
        "POST",
        "/admin/staff/{spare_staff_id}/role",
        ADMIN,
        {OPERATOR},
        form={"role": "clinic_coordinator", "clinic": "{clinic_id}"},
    ),
    R("POST", "/admin/logout", ADMIN, ALL_STAFF, form={}, last=2, ok={303}),
]


@dataclass
class Caller:
    name: str
    kind: str  # "anonymous", "patient" or "staff"
    role: Role | None = None
    side: str | None = None  # "A" or "B" for patients and clinic staff
    token: str = ""


def expected(route: Route, caller: Caller) -> str:
    """The answer a caller must get: "ok", or a status code as text."""
    if route.auth == PUBLIC:
        return "ok"
    if route.auth == CAPABILITY:
        return str(route.refuse)
    if route.auth == PATIENT:
        if caller.kind != "patient":
            return "401"
        return "404" if route.scope == OWN_PATIENT and caller.side == "B" else "ok"
    refused = "401" if route.auth == STAFF else "login"
    if caller.kind != "staff":
        return refused
    if caller.role not in route.roles:
        return "403"
    if route.scope == NOBODY or (route.scope == OWN_CLINIC and caller.side == "B"):
        return "404"
    return "ok"


def answer_matches(route: Route, want: str, response) -> bool:
    status = response.status_code
    if want == "login":
        return status == 303 and response.headers["location"].startswith("/admin/login")
    if want != "ok":
        return str(status) == want
    if route.ok:
        return status in route.ok
    if route.auth == ADMIN and status == 303:  # a form's redirect back, not to the login
        return not response.headers["location"].startswith("/admin/login")
    return 200 <= status < 300


async def row_counts() -> dict[str, int]:
    """What a refused call could have written."""
    tables = (
        Event,
        Referral,
        Clinic,
        StaffUser,
        Patient,
        Plan,
        Media,
        Device,
        Appointment,
        ContactRating,
    )
    counts = {t._meta.tablename: await t.count() for t in tables}
    counts["archived clinics"] = await Clinic.count().where(Clinic.archived_at.is_not_null())
    return counts


async def world(client, db) -> tuple[dict[str, Any], list[Caller]]:
    """World A and world B: a clinic, a patient with a referral, its question,
    appointment, picture and device in each; staff of every role."""
    now = utcnow()
    clinic_a, clinic_b = await make_clinic("Клиника А"), await make_clinic("Клиника Б")
    spare_clinic = await make_clinic("Запасная")
    ref_a = await make_referral(clinic_a, phone="+79161110001", at=now - timedelta(hours=3))
    spare = await make_referral(clinic_a, phone="+79161110003", at=now - timedelta(hours=3))
    await make_referral(clinic_b, phone="+79161110002", at=now - timedelta(hours=3))
    await book(ref_a.referral_id, now + timedelta(days=1))
    media_id = await attach_picture(db, ref_a.referral_id)
    code = await issue_code(ref_a.referral_id, secret=db.secret_key, issued_by="staff:test")
    patient_a = await patient_sign_in(client, "+79161110001")
    patient_b = await patient_sign_in(client, "+79161110002")
    device = {**pex.DEVICE_IN, "token": "fcm-token-of-patient-a-" + "0" * 20}
    assert (
        await client.put(f"{API}/me/devices", headers=headers(patient_a.access), json=device)
    ).status_code == 200
    screen = (
        await client.get(
            f"{API}/me/referrals/{ref_a.referral_id}", headers=headers(patient_a.access)
        )
    ).json()

    callers = [
        Caller("anonymous", "anonymous"),
        Caller("patient A", "patient", side="A", token=patient_a.access),
        Caller("patient B", "patient", side="B", token=patient_b.access),
    ]
    for role in sorted(ALL_STAFF):
        sides = ("A", "B") if role in CLINIC_STAFF else (None,)
        for side in sides:
            clinic = {"A": clinic_a, "B": clinic_b}.get(side or "")
            staff = await sign_in(client, await make_staff(role, clinic))
            name = f"{role.value} {side}" if side else role.value
            callers.append(Caller(name, "staff", role=role, side=side, token=staff.token))

    spare_staff = await make_staff(COORD, clinic_a, email="spare.staff@example.org")
    ids = {
        "spare_staff_id": (await staff_by_email(spare_staff.email)).id,
        "referral_id": ref_a.referral_id,
        "spare_referral_id": spare.referral_id,
        "clinic_id": clinic_a,
        "spare_clinic_id": spare_clinic,
        "media_id": media_id,
        "question_id": screen["questions"][0]["id"],
        "appointment_id": screen["appointments"][0]["id"],
        "device_token": device["token"],
        "visit_code": code.code,
        "missing_id": uuid4(),
        "missing_clinic_id": uuid4(),
        "missing_delivery": 987654,
        "token": "not-a-real-integration-token-" + "0" * 16,
        "link_token": "NotARealLinkToken00000",  # a link's length, never issued
        "path": "nothing-here",
        "file_path": "admin.css",
        "lang": "en",
    }
    bodies = {
        "{staff_in}": lambda n: {
            **sex.STAFF_IN,
            "email": f"matrix{n}@example.org",
            "clinic_id": str(clinic_a),
        },
        "{referral_in}": lambda n: {
            **sex.REFERRAL_IN,
            "clinic_id": str(clinic_a),
            "patient": {"phone": f"+7916222{n:04d}", "name": "Пациент"},
        },
        "{transfer_in}": lambda n: {**sex.TRANSFER_IN, "clinic_id": str(clinic_b)},
        "{import_in}": lambda n: {
            **sex.IMPORT_IN,
            "clinic_id": str(clinic_a),
            "patient": {"phone": f"+7916333{n:04d}", "name": "Пациент"},
        },
    }
    return {"ids": ids, "bodies": bodies}, callers


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def ask(client, route: Route, caller: Caller, here: dict[str, Any], n: int):
    ids = here["ids"]
    url = route.path.format(**ids) + route.query
    kwargs: dict[str, Any] = {}
    body = route.body
    if isinstance(body, str):
        body = here["bodies"][body](n)
    elif isinstance(body, dict) and body.get("code") == "{visit_code}":
        body = {"code": ids["visit_code"]}
    if route.files is not None:
        kwargs["files"] = {
            k: (name, png() if data == PNG else data, kind)
            for k, (name, data, kind) in route.files.items()
        }
        kwargs["data"] = route.form or {}
    elif route.form is not None:
        kwargs["data"] = {k: v.format(**ids) for k, v in route.form.items()}
    elif body is not None:
        if isinstance(body, dict):  # an id named in a body: "{clinic_id}"
            body = {
                k: v.format(**ids) if isinstance(v, str) and v.startswith("{") else v
                for k, v in body.items()
            }
        kwargs["json"] = body
    hdrs: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if route.auth == ADMIN or route.path.startswith(("/admin", "/p/")):
        # The admin pages and the patient's web page want the CSRF pair; the admin pages
        # read the session from their cookie.
        cookies["csrftoken"] = here["csrf"]
        hdrs["x-csrftoken"] = here["csrf"]
        if caller.kind == "staff":
            cookies[COOKIE] = caller.token
    elif caller.token:
        hdrs.update(headers(caller.token))
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    return await client.request(route.method, url, headers=hdrs, follow_redirects=False, **kwargs)


def route_keys(app) -> set[tuple[str, str]]:
    return {
        (method, route.path_format)
        for route in app.routes
        for method in getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}
    }


ALIASES = {
    "spare_clinic_id": "clinic_id",
    "spare_referral_id": "referral_id",
    "missing_id": "dispute_id",
    "missing_delivery": "delivery_id",
    "device_token": "token",
    "link_token": "token",
    "spare_staff_id": "staff_id",
    "missing_clinic_id": "clinic_id",
}


def unformatted(path: str) -> str:
    """The app's own spelling of a matrix path: `{spare_clinic_id}` is `{clinic_id}`."""
    return re.sub(r"\{(\w+)\}", lambda m: "{" + ALIASES.get(m[1], m[1]) + "}", path)


def test_every_route_is_in_the_matrix():
    from backend.app import create_app
    from backend.settings import load_settings

    app = create_app(load_settings({"PLANTRACK_VAR_DIR": "/tmp/plantrack-matrix"}))
    listed = [(r.method, unformatted(r.path)) for r in ROUTES]
    assert len(listed) == len(set(listed)), "a route is listed twice"
    assert route_keys(app) == set(listed)


async def test_every_cell_of_the_matrix(client, db):
    here, callers = await world(client, db)
    here["csrf"] = (await client.get("/admin/login")).cookies["csrftoken"]
    wrong: list[str] = []
    cells = 0
    n = 0
    order = sorted(ROUTES, key=lambda r: r.last)
    for route in order:
        answers = [(c, expected(route, c)) for c in callers]
        refused = [(c, want) for c, want in answers if want != "ok"]
        allowed = [(c, want) for c, want in answers if want == "ok"]
        before = await row_counts()
        for turn, group in enumerate((refused, allowed)):
            if turn == 1 and (after := await row_counts()) != before:
                wrong.append(
                    f"{route.method} {route.path}: refused calls wrote rows: {before} -> {after}"
                )
            for caller, want in group:
                n += 1
                response = await ask(client, route, caller, here, n)
                cells += 1
                server_error = response.status_code >= 500 and response.status_code not in route.ok
                if server_error or not answer_matches(route, want, response):
                    wrong.append(
                        f"{route.method} {route.path} as {caller.name}: want {want}, "
                        f"got {response.status_code} {response.text[:120]!r}"
                    )
    assert not wrong, f"{len(wrong)} of {cells} cells wrong:\n" + "\n".join(wrong)
    assert cells == len(ROUTES) * len(callers)

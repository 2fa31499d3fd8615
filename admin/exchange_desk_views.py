"""The exchange's desk pages for what was API-only: clinics' integrations with their
stage and field maps (and the CRM's live stages beside them), the inbox of deliveries
with replay, price lists and plan import from an AI analysis. (Pictures: the referral's
pictures page, admin.views, open to the exchange's operators too.) The same services as
/api/v1/exchange."""

import json
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from litestar import Request
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from admin import forms
from admin.views import Form, _detail, _uuid, admin_router, page, staff_get, staff_post
from backend.routes import staff_bodies as b
from backend.routes import staff_present as present
from backend.routes.plan_import import MAX_IMPORT
from backend.routes.staff_security import OPERATOR
from backend.services import exchange_admin, inbox, integration_desk, integration_setup, plan_import
from backend.services.errors import NotFound, ServiceError
from backend.services.staff_auth import StaffPrincipal

PAGE = 50
STATUSES = ["received", "processed", "ignored", "unmapped", "failed", "rejected"]
MAX_PICTURE = 15 * 1024 * 1024


def _go(path: str, **query: str) -> Redirect:
    return Redirect(path=f"{path}?{urlencode(query)}" if query else path, status_code=303)


def _json(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from exc


# --- integrations ----------------------------------------------------------------------


@staff_get("/integrations", OPERATOR)
async def integrations_page(request: Request) -> Template:
    key = request.app.state.settings.secret_key
    rows = []
    for clinic in await exchange_admin.clinics():
        view = await integration_setup.describe(clinic.id, secret_key=key, public_url=None)
        rows.append({"clinic": clinic, "view": view})
    return await page(request, "integrations.html", rows=rows)


@staff_get("/integrations/{clinic_id:uuid}", OPERATOR)
async def integration_page(
    request: Request, clinic_id: FromPath[UUID], stages: FromQuery[bool] = False
) -> Template:
    settings = request.app.state.settings
    clinic = await exchange_admin.clinic(clinic_id)
    view = await integration_setup.describe(
        clinic_id, secret_key=settings.secret_key, public_url=settings.public_url
    )
    crm_stages, stages_error = None, None
    if stages and view is not None:
        try:
            crm_stages = await integration_setup.crm_stages(
                clinic_id, secret_key=settings.secret_key
            )
        except ServiceError as exc:
            stages_error = exc.detail
    config = view.settings if view else {}
    return await page(
        request,
        "integration.html",
        clinic=clinic,
        view=view,
        stage_map=json.dumps(
            {
                stage: {k: v for k, v in rule.items() if v is not None}
                for stage, rule in config.get("stage_map", {}).items()
            },
            ensure_ascii=False,
            indent=2,
        ),
        fields=json.dumps(
            {k: v for k, v in (config.get("fields") or {}).items() if v is not None},
            ensure_ascii=False,
            indent=2,
        ),
        settings_json=json.dumps(
            {k: v for k, v in config.items() if k not in ("stage_map", "fields")},
            ensure_ascii=False,
            indent=2,
        ),
        crm_stages=crm_stages,
        stages_error=stages_error,
    )


@staff_post("/integrations/{clinic_id:uuid}/maps", OPERATOR)
async def save_maps(
    request: Request, clinic_id: FromPath[UUID], data: Annotated[forms.MapsForm, Form]
) -> Redirect:
    settings = request.app.state.settings
    target = f"/admin/integrations/{clinic_id}"
    try:
        await integration_desk.update_maps(
            clinic_id,
            stage_map=_json(data.stage_map),
            fields=_json(data.fields),
            secret_key=settings.secret_key,
            public_url=settings.public_url,
        )
    except NotFound:
        raise
    except (ServiceError, ValueError) as exc:
        return _go(target, error=_detail(exc))
    return _go(target, msg="saved")


@staff_post("/integrations/{clinic_id:uuid}", OPERATOR, status_code=200)
async def connect(
    request: Request, clinic_id: FromPath[UUID], data: Annotated[forms.ConnectForm, Form]
) -> Redirect | Template:
    settings = request.app.state.settings
    target = f"/admin/integrations/{clinic_id}"
    try:
        done = await integration_desk.connect(
            clinic_id,
            _json(data.body),
            secret_key=settings.secret_key,
            public_url=settings.public_url,
        )
    except NotFound:
        raise
    except (ServiceError, ValueError) as exc:
        return _go(target, error=_detail(exc))
    shown = done.signing_secret or done.integration_key
    if shown:  # made here and shown once: on a page, never in a URL
        return await page(request, "integration_secret.html", clinic_id=clinic_id, secret=shown)
    return _go(target, msg="saved")


# --- the inbox -------------------------------------------------------------------------


@staff_get("/inbox", OPERATOR)
async def inbox_page(
    request: Request,
    clinic: FromQuery[str] = "",
    status: FromQuery[str] = "",
    before: FromQuery[int] = 0,
) -> Template:
    rows = await integration_desk.deliveries(
        clinic_id=_uuid(clinic),
        status=status if status in STATUSES else None,
        limit=PAGE + 1,
        before_id=before or None,
    )
    names = {c.id: c.name for c in await exchange_admin.clinics(include_archived=True)}
    page_rows = rows[:PAGE]
    return await page(
        request,
        "inbox.html",
        rows=[present.delivery(r) for r in page_rows],
        names=names,
        clinics=await exchange_admin.clinics(),
        statuses=STATUSES,
        f={"clinic": clinic, "status": status},
        next_before=page_rows[-1].id if len(rows) > PAGE and page_rows else None,
    )


@staff_get("/inbox/{delivery_id:int}", OPERATOR)
async def delivery_page(request: Request, delivery_id: FromPath[int]) -> Template:
    if not 0 < delivery_id < 2**63:
        raise NotFound("no such delivery")
    row = await integration_desk.delivery(delivery_id)
    detail = present.delivery(row, detail=True)
    clinic = await exchange_admin.clinic(row.clinic) if row.clinic else None
    return await page(
        request,
        "delivery.html",
        d=detail,
        clinic=clinic,
        result=json.dumps(msgspec.to_builtins(detail.result), ensure_ascii=False, indent=2),
        headers=json.dumps(
            msgspec.to_builtins(getattr(detail, "headers", {})), ensure_ascii=False, indent=2
        ),
    )


@staff_post("/inbox/{delivery_id:int}/replay", OPERATOR)
async def replay(delivery_id: FromPath[int]) -> Redirect:
    if not 0 < delivery_id < 2**63:
        raise NotFound("no such delivery")
    try:
        await inbox.replay(delivery_id)
    except NotFound:
        raise
    except ServiceError as exc:
        return _go(f"/admin/inbox/{delivery_id}", error=_detail(exc))
    return _go(f"/admin/inbox/{delivery_id}", msg="recorded")


# --- price lists -----------------------------------------------------------------------


@staff_get("/prices", OPERATOR)
async def prices_page(
    request: Request, clinic: FromQuery[str] = "", after: FromQuery[str] = ""
) -> Template:
    clinic_id = _uuid(clinic)
    rows = await plan_import.price_page(clinic_id, after=after or None, limit=PAGE + 1)
    return await page(
        request,
        "prices.html",
        rows=rows[:PAGE],
        next_after=rows[PAGE - 1].code if len(rows) > PAGE else None,
        clinics=await exchange_admin.clinics(),
        picked=clinic,
        example=json.dumps(
            {
                "entries": [
                    {
                        "code": "A16.07.002",
                        "specialization": "therapy",
                        "title_ru": "Лечение кариеса",
                        "price": 650000,
                    }
                ]
            },
            ensure_ascii=False,
        ),
    )


@staff_post("/prices", OPERATOR, request_max_body_size=MAX_IMPORT)
async def save_prices(data: Annotated[forms.PricesForm, Form]) -> Redirect:
    clinic_id = _uuid(data.clinic)
    back = {"clinic": data.clinic} if clinic_id else {}
    try:
        given = msgspec.convert(_json(data.body), b.PricesIn)
        saved = await plan_import.set_prices(clinic_id, given.entries)
    except (ServiceError, ValueError, msgspec.ValidationError) as exc:
        return _go("/admin/prices", error=_detail(exc), **back)
    return _go("/admin/prices", msg="saved", saved=str(saved), **back)


# --- plan import -----------------------------------------------------------------------


@staff_get("/import", OPERATOR)
async def import_page(request: Request) -> Template:
    from backend.routes.staff_examples import IMPORT_IN

    return await page(
        request,
        "import.html",
        body=json.dumps(IMPORT_IN, ensure_ascii=False, indent=2),
        preview=None,
        clinics=await exchange_admin.clinics(),
    )


@staff_post("/import", OPERATOR, status_code=200, request_max_body_size=MAX_IMPORT)
async def run_import(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    data: Annotated[forms.ImportForm, Form],
) -> Redirect | Template:
    try:
        given = msgspec.convert(_json(data.body), b.ImportIn)
        if data.action == "preview":
            plan = await plan_import.preview(given.clinic_id, given.analysis, given.min_probability)
            return await page(
                request,
                "import.html",
                body=data.body,
                preview=plan,
                currency=given.currency,
                clinics=await exchange_admin.clinics(),
            )
        sent, _ = await plan_import.import_referral(
            patient=given.patient,
            clinic_id=given.clinic_id,
            analysis=given.analysis,
            currency=given.currency,
            min_probability=given.min_probability,
            actor=staff.actor,
            idempotency_key=None,  # the analysis_id makes a repeated import the same one
        )
    except (ServiceError, ValueError, msgspec.ValidationError) as exc:
        return await page(
            request,
            "import.html",
            status=422,
            body=data.body,
            preview=None,
            clinics=await exchange_admin.clinics(),
            error=_detail(exc),
        )
    return _go(f"/admin/referrals/{sent.referral_id}", msg="saved")


router = admin_router(
    integrations_page,
    integration_page,
    save_maps,
    connect,
    inbox_page,
    delivery_page,
    replay,
    prices_page,
    save_prices,
    import_page,
    run_import,
)

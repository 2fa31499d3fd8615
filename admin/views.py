"""The staff pages under /admin: the same services as the API, rendered with Jinja.

Sign-in sets an HttpOnly, SameSite cookie (path /admin); every form carries Litestar's
CSRF token; a session ends after 15 idle minutes and the page sends you back to sign in.
"""

from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

import admin.desk_i18n  # noqa: F401 - the desk pages' words join WORDS
from admin import charts, forms, plan_form
from admin.i18n import EVENTS, ROLES, SIDES, STATES, STEPS, Lang, word
from backend.domain.claims import (
    ClosedIn,
    CompletedIn,
    ContactedIn,
    ItemDoneIn,
    NoShowIn,
    PaymentIn,
    ReceivedIn,
    VisitedIn,
)
from backend.domain.events import Source
from backend.domain.funnel import MAIN_LINE, Step
from backend.domain.money_funnel import months_of_reserve
from backend.domain.plans import variant_totals
from backend.domain.roles import Role
from backend.domain.teeth import ToothCondition
from backend.routes import plan_document, staff_security
from backend.routes.clinic_reports import reason_table
from backend.routes.funnel import specialization_out
from backend.routes.media import MAX_UPLOAD
from backend.routes.staff_security import (
    CLINIC_MANAGER,
    CLINIC_STAFF,
    COOKIE,
    EXCHANGE_READERS,
    OPERATOR,
    admin_guard,
    provide_staff,
    provide_viewer,
    roles,
)
from backend.runtime.clock import utcnow
from backend.services import (
    desk,
    exchange_admin,
    funnel_reports,
    patient_prices,
    reports,
    staff_accounts,
    staff_auth,
    texts,
    visit_codes,
)
from backend.services.audit import Viewer
from backend.services.claims import record_clinic_claim
from backend.services.errors import Forbidden, Invalid, NotFound, ServiceError, TooManyAttempts
from backend.services.media import KINDS, PHASES, attach_media, picture_links
from backend.services.referrals import PatientIn, PlanIn, revise_plan, send_referral
from backend.services.staff_auth import EnrolmentNeeded, StaffPrincipal, qr_svg
from backend.services.texts import SPECIALIZATIONS
from backend.services.worklist import call_history
from backend.web.rate_limits import auth_budget

LANG_COOKIE = "plantrack_lang"
EXCHANGE_TZ = reports.EXCHANGE_TZ
ACCOUNTS_PAGE = 25  # staff accounts a page
Form = Body(media_type=RequestEncodingType.URL_ENCODED)


def lang_of(request: Request) -> Lang:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "ru"


async def page(request: Request, name: str, *, status: int = 200, **context: Any) -> Template:
    """Render a page in the viewer's language and time zone (the clinic's, for its staff)."""
    staff: StaffPrincipal | None = request.state.get("staff")
    tz = EXCHANGE_TZ
    if staff is not None and staff.clinic_id is not None:
        tz = await exchange_admin.clinic_zone(staff.clinic_id)
    return render(request, name, tz=tz, status=status, **context)


def render(
    request: Request, name: str, *, tz: ZoneInfo, status: int = 200, **context: Any
) -> Template:
    lang = lang_of(request)
    staff: StaffPrincipal | None = request.state.get("staff")
    return Template(
        template_name=name,
        status_code=status,
        context={
            "lang": lang,
            "t": lambda key: word(key, lang),
            "step_label": lambda step: STEPS.get(step, {}).get(lang, step),
            "state_label": lambda state: STATES.get(state, {}).get(lang, state),
            "event_label": lambda kind: EVENTS.get(kind, {}).get(lang, kind),
            "side_label": lambda side: SIDES.get(side, {}).get(lang, side),
            "role_label": lambda role: ROLES.get(role, {}).get(lang, role),
            "answer_label": lambda a: texts.ANSWERS.get(a, {}).get(lang, a),
            "money": lambda amount, currency="RUB": texts.money(amount or 0, currency, lang),
            "when": lambda at: texts.day_time(at, tz, lang) if at else "—",
            "tz": tz,
            "staff": staff,
            "nav": _nav(staff),
            "msg": request.query_params.get("msg"),
            "error": request.query_params.get("error"),
            "path": request.url.path,
            **context,
        },
    )


def _nav(staff: StaffPrincipal | None) -> list[tuple[str, str]]:
    if staff is None:
        return []
    items = {
        Role.clinic_coordinator: [
            ("/admin/worklist", "worklist"),
            ("/admin/referrals", "referrals"),
            ("/admin/calls", "calls"),
            ("/admin/follow-up", "follow_up"),
            ("/admin/clinic-disputes", "clinic_disputes"),
            ("/admin/alerts", "alerts"),
        ],
        Role.clinic_manager: [
            ("/admin/worklist", "worklist"),
            ("/admin/referrals", "referrals"),
            ("/admin/funnel", "funnel"),
            ("/admin/conversion", "conversion_title"),
            ("/admin/scorecard", "scorecard"),
            ("/admin/ratings", "ratings"),
            ("/admin/calls", "calls"),
            ("/admin/follow-up", "follow_up"),
            ("/admin/plan-settings", "plan_settings"),
            ("/admin/clinic-disputes", "clinic_disputes"),
            ("/admin/alerts", "alerts"),
            ("/admin/settings", "settings"),
        ],
        Role.exchange_operator: [
            ("/admin/referrals", "referrals"),
            ("/admin/referrals/new", "new_referral"),
            ("/admin/disputes", "disputes"),
            ("/admin/funnel", "funnel"),
            ("/admin/conversion", "conversion_title"),
            ("/admin/scorecards", "scorecards"),
            ("/admin/clinics", "clinics"),
            ("/admin/staff", "staff"),
            ("/admin/integrations", "integrations"),
            ("/admin/inbox", "inbox"),
            ("/admin/prices", "prices"),
            ("/admin/import", "plan_import"),
            ("/admin/settings", "settings"),
            ("/admin/audit", "audit"),
            ("/admin/alerts", "alerts"),
        ],
        Role.exchange_analyst: [
            ("/admin/funnel", "funnel"),
            ("/admin/conversion", "conversion_title"),
            ("/admin/scorecards", "scorecards"),
        ],
        Role.health_analyst: [],
    }
    return items[staff.role]


def back(request: Request, fallback: str, **query: str) -> Redirect:
    target = request.headers.get("referer") or fallback
    base = target.split("?", 1)[0]
    return Redirect(path=f"{base}?{urlencode(query)}" if query else base, status_code=303)


# --- how a staff page is declared --------------------------------------------------------


def staff_get(path: str, allowed: frozenset[Role], **options: Any) -> HTTPRouteHandler:
    """A staff page: signed in by the session cookie, for the `allowed` roles, kept out of
    the API document."""
    return get(path, guards=[admin_guard], opt=roles(allowed), include_in_schema=False, **options)


def staff_post(path: str, allowed: frozenset[Role], **options: Any) -> HTTPRouteHandler:
    """A staff form's target, guarded as `staff_get`."""
    return post(path, guards=[admin_guard], opt=roles(allowed), include_in_schema=False, **options)


# --- sign-in ---------------------------------------------------------------------------


@get("/login", include_in_schema=False)
async def login_page(request: Request, next: FromQuery[str] = "/admin") -> Template:
    return await page(request, "login.html", next=_safe_next(next), form_error=None)


def _safe_next(target: str) -> str:
    """Only a path inside /admin: never an open redirect."""
    return target if target.startswith("/admin") and not target.startswith("//") else "/admin"


@post("/login", guards=[auth_budget], include_in_schema=False, status_code=200)
async def login(request: Request, data: Annotated[forms.LoginForm, Form]) -> Response:
    try:
        signed = await staff_security.sign_in(
            request, email=data.email, password=data.password, totp=data.totp
        )
    except EnrolmentNeeded as exc:
        return await page(
            request,
            "enrol.html",
            email=data.email,
            qr=qr_svg(exc.provisioning_uri),
            uri=exc.provisioning_uri,
            next=_safe_next(data.next),
        )
    except TooManyAttempts:
        return await page(
            request,
            "login.html",
            next=_safe_next(data.next),
            form_error=word("throttled", lang_of(request)),
        )
    except ServiceError:
        return await page(
            request,
            "login.html",
            next=_safe_next(data.next),
            form_error=word("bad_login", lang_of(request)),
        )
    response = Redirect(path=_safe_next(data.next), status_code=303)
    response.set_cookie(
        key=COOKIE,
        value=signed.token,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(staff_auth.LONGEST.total_seconds()),
    )
    return response


@staff_post("/logout", CLINIC_STAFF | EXCHANGE_READERS | {Role.health_analyst})
async def logout(staff: NamedDependency[StaffPrincipal]) -> Redirect:
    await staff_auth.sign_out(staff)
    response = Redirect(path="/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


@get("/lang/{lang:str}", include_in_schema=False, sync_to_thread=False)
def set_lang(request: Request, lang: FromPath[str]) -> Redirect:
    response = back(request, "/admin")
    response.set_cookie(
        key=LANG_COOKIE,
        value="en" if lang == "en" else "ru",
        path="/admin",
        samesite="lax",
        max_age=3600 * 24 * 365,
    )
    return response


@staff_get("/", CLINIC_STAFF | EXCHANGE_READERS | {Role.health_analyst})
async def home(request: Request, staff: NamedDependency[StaffPrincipal]) -> Response:
    nav = _nav(staff)
    if not nav:
        return await page(request, "message.html", text=word("not_for_role", lang_of(request)))
    return Redirect(path=nav[0][0], status_code=303)


# --- referrals -------------------------------------------------------------------------


@staff_get("/referrals", CLINIC_STAFF | OPERATOR)
async def referrals_page(
    request: Request,
    viewer: NamedDependency[Viewer],
    step: FromQuery[str] = "",
    overdue: FromQuery[bool] = False,
    disputed: FromQuery[bool] = False,
    q: FromQuery[str] = "",
    clinic: FromQuery[str] = "",
) -> Template:
    filters = desk.ReferralFilter(
        clinic_id=_uuid(clinic),
        step=Step[step] if step in Step.__members__ else None,
        overdue=overdue,
        disputed=disputed,
        search=q or None,
    )
    rows = await desk.list_referrals(viewer, filters, limit=200)
    clinics = await exchange_admin.clinics() if viewer.principal.clinic_id is None else []
    return await page(
        request,
        "referrals.html",
        rows=rows,
        steps=list(Step.__members__),
        f={"step": step, "overdue": overdue, "disputed": disputed, "q": q, "clinic": clinic},
        clinics=clinics,
    )


def _day(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


@staff_get("/referrals/{referral_id:uuid}", CLINIC_STAFF | OPERATOR)
async def referral_page(
    request: Request, viewer: NamedDependency[Viewer], referral_id: FromPath[UUID]
) -> Template:
    card = await desk.referral_card(viewer, referral_id, utcnow())
    estimated = next((v for v in reversed(card.plans) if v.origin == "estimated"), None)
    actual = next((v for v in reversed(card.plans) if v.origin == "actual"), None)
    current = actual or estimated
    return await page(
        request,
        "referral.html",
        card=card,
        fold=card.fold,
        estimated=estimated,
        actual=actual,
        current=current,
        appointments=await desk.appointments_of(referral_id),
        timeline=sorted(card.events, key=lambda e: (e.occurred_at, e.id)),
        verifications=list(card.verifications.values()),
        item_titles={str(i.item_id): i.title_ru or i.title_en for v in card.plans for i in v.items},
        calls=await call_history(viewer, referral_id, limit=50),
        variant_totals=variant_totals,
        # The fold knows the patient's choice; a version's own mark is only its default.
        counted_of=lambda v: v.variant,
    )


def _claim_from_form(form: forms.ClaimForm, tz: ZoneInfo):
    kind = form.kind
    if kind == "received":
        return ReceivedIn()
    if kind == "contacted":
        appointment_at = None
        if form.outcome == "booked":
            try:
                day = date.fromisoformat(form.appointment_date)
                at = time.fromisoformat(form.appointment_time or "10:00")
            except ValueError as exc:
                raise HTTPException(
                    status_code=400, detail="date and time of the appointment"
                ) from exc
            appointment_at = datetime.combine(day, at, tzinfo=tz)
        return ContactedIn(
            outcome=form.outcome or "unreachable",  # type: ignore[arg-type]
            appointment_at=appointment_at,
            reason=form.reason or None,
        )
    if kind == "visited":
        return VisitedIn()
    if kind == "no_show":
        return NoShowIn()
    if kind == "item_done":
        return ItemDoneIn(item_id=UUID(form.item_id))
    if kind == "payment":
        return PaymentIn(amount=plan_form.kopecks(form.amount_rub, "amount"))
    if kind == "completed":
        return CompletedIn()
    if kind == "closed":
        return ClosedIn(reason=form.reason or "—")
    raise HTTPException(status_code=400, detail=f"unknown step {kind}")


@staff_post("/referrals/{referral_id:uuid}/claims", CLINIC_STAFF)
async def post_claim(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[forms.ClaimForm, Form],
) -> Redirect:
    referral = await desk.referral_in_scope(staff, referral_id)
    tz = await exchange_admin.clinic_zone(referral.clinic)
    target = f"/admin/referrals/{referral_id}"
    try:
        claim = _claim_from_form(data, tz)
        await record_clinic_claim(referral_id, claim, source=Source.clinic_panel, actor=staff.actor)
    except (ServiceError, HTTPException, ValueError, msgspec.ValidationError) as exc:
        return Redirect(path=f"{target}?{urlencode({'error': _detail(exc)})}", status_code=303)
    return Redirect(path=f"{target}?msg=recorded", status_code=303)


def _detail(exc: Exception) -> str:
    return getattr(exc, "detail", None) or str(exc)


@staff_post("/referrals/{referral_id:uuid}/visit-code", CLINIC_STAFF, status_code=200)
async def visit_code_page(
    request: Request, staff: NamedDependency[StaffPrincipal], referral_id: FromPath[UUID]
) -> Template:
    await desk.referral_in_scope(staff, referral_id)
    issued = await visit_codes.issue_code(
        referral_id, secret=request.app.state.settings.secret_key, issued_by=staff.actor
    )
    return await page(
        request,
        "visit_code.html",
        code=issued.code,
        qr=qr_svg(issued.code),
        expires_at=issued.expires_at,
        referral_id=referral_id,
    )


@staff_get("/referrals/{referral_id:uuid}/plan", CLINIC_STAFF)
async def plan_page(
    request: Request, viewer: NamedDependency[Viewer], referral_id: FromPath[UUID]
) -> Template:
    card = await desk.referral_card(viewer, referral_id, utcnow())
    current = card.plans[-1]
    return await page(
        request,
        "plan_edit.html",
        card=card,
        plan=current,
        items=current.items,
        teeth=current.teeth,
        variants=current.variants,
        explanations=current.explanations,
        item_rows={i.item_id: n + 1 for n, i in enumerate(current.items)},
        spare_items=plan_form.SPARE_ITEMS,
        spare_teeth=plan_form.SPARE_TEETH,
        spare_variants=plan_form.SPARE_VARIANTS,
        spare_explanations=plan_form.SPARE_EXPLANATIONS,
        rubles=plan_form.rubles,
        specializations=list(texts.SPECIALIZATIONS),
        conditions=[c.value for c in ToothCondition],
    )


@staff_post("/referrals/{referral_id:uuid}/plan", CLINIC_STAFF)
async def save_plan(
    request: Request, staff: NamedDependency[StaffPrincipal], referral_id: FromPath[UUID]
) -> Redirect:
    referral = await desk.referral_in_scope(staff, referral_id)
    form = await request.form()
    target = f"/admin/referrals/{referral_id}"
    try:
        await revise_plan(
            referral_id,
            plan_form.plan_from_form(form, referral.currency),
            reason=form.get("reason", ""),
            source=Source.clinic_panel,
            actor=staff.actor,
        )
    except (ServiceError, ValueError, msgspec.ValidationError) as exc:
        return Redirect(path=f"{target}/plan?{urlencode({'error': _detail(exc)})}", status_code=303)
    return Redirect(path=f"{target}?msg=saved", status_code=303)


@staff_get("/referrals/{referral_id:uuid}/plan.pdf", CLINIC_STAFF | OPERATOR)
async def plan_pdf_page(
    request: Request, viewer: NamedDependency[Viewer], referral_id: FromPath[UUID]
) -> Response:
    return await plan_document.staff_print(request.app.state.settings, viewer, referral_id)


# --- pictures -----------------------------------------------------------------------------


# the exchange's desk uploads here too
@staff_get("/referrals/{referral_id:uuid}/pictures", CLINIC_STAFF | OPERATOR)
async def pictures_page(
    request: Request, viewer: NamedDependency[Viewer], referral_id: FromPath[UUID]
) -> Template:
    rows = await desk.pictures(viewer, referral_id)
    files, now = request.app.state.media_files, utcnow()
    by_phase: dict[str, list[dict]] = {p: [] for p in ("before", "progress", "after")}
    for row in rows:
        by_phase.setdefault(row.phase, []).append(
            msgspec.structs.asdict(row) | {"links": await picture_links(files, row, now)}
        )
    return await page(
        request,
        "pictures.html",
        referral_id=referral_id,
        by_phase=by_phase,
        kinds=KINDS,
        phases=PHASES,
    )


@staff_post(
    "/referrals/{referral_id:uuid}/pictures",
    CLINIC_STAFF | OPERATOR,
    request_max_body_size=MAX_UPLOAD + 64 * 1024,
)
async def upload_picture(
    request: Request, staff: NamedDependency[StaffPrincipal], referral_id: FromPath[UUID]
) -> Redirect:
    await desk.referral_in_scope(staff, referral_id)
    target = f"/admin/referrals/{referral_id}/pictures"
    form = await request.form()
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise Invalid("choose a picture to upload")
        data = await upload.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise Invalid("the picture is over 15 MB")
        tooth = form.get("tooth", "").strip()
        await attach_media(
            request.app.state.media_files,
            referral_id=referral_id,
            data=data,
            kind=form.get("kind", "photo"),
            phase=form.get("phase", "before"),
            tooth=int(tooth) if tooth else None,
            caption=form.get("caption", "").strip(),
            uploaded_by=staff.actor,
        )
    except (ServiceError, ValueError) as exc:
        return Redirect(path=f"{target}?{urlencode({'error': _detail(exc)})}", status_code=303)
    return Redirect(path=f"{target}?msg=saved", status_code=303)


# --- the clinic's pages ------------------------------------------------------------------


@staff_get("/plan-settings", CLINIC_MANAGER)
async def plan_settings_page(request: Request, staff: NamedDependency[StaffPrincipal]) -> Template:
    shown = await patient_prices.prices_shown(staff.clinic_id)
    return await page(request, "plan_settings.html", show_prices=shown)


@staff_post("/plan-settings", CLINIC_MANAGER)
async def save_plan_settings(
    request: Request, staff: NamedDependency[StaffPrincipal], viewer: NamedDependency[Viewer]
) -> Redirect:
    form = await request.form()
    await patient_prices.show_prices(viewer, staff.clinic_id, form.get("show_prices") == "on")
    return Redirect(path="/admin/plan-settings?msg=saved", status_code=303)


@staff_get("/calls", CLINIC_STAFF)
async def calls_page(request: Request, viewer: NamedDependency[Viewer]) -> Template:
    rows = await desk.nobody_called(viewer, viewer.principal.clinic_id)
    return await page(request, "calls.html", rows=rows)


@staff_get("/follow-up", CLINIC_STAFF)
async def follow_up_page(request: Request, viewer: NamedDependency[Viewer]) -> Template:
    rows = await desk.follow_up(viewer, viewer.principal.clinic_id)
    return await page(request, "follow_up.html", rows=rows)


@staff_get("/ratings", CLINIC_MANAGER)
async def ratings_page(request: Request, viewer: NamedDependency[Viewer]) -> Template:
    rows = await desk.ratings(viewer, viewer.principal.clinic_id)
    return await page(request, "ratings.html", rows=rows)


async def report_scope(staff: StaffPrincipal, clinic: list[str] | None) -> funnel_reports.Scope:
    """The clinics a report page covers: a clinic's staff see their own, the exchange its pick."""
    if staff.clinic_id is not None:
        return await funnel_reports.own_clinic(staff.clinic_id)
    return await funnel_reports.exchange_pick([u for u in map(_uuid, clinic or []) if u] or None)


async def report_filters(
    staff: StaffPrincipal, ids: list[UUID] | None, spec: str | None, lang: Lang
) -> dict[str, Any]:
    """What _report_filters.html shows: the specialization and, for the exchange, the clinics."""
    return {
        "specializations": {k: v[lang] for k, v in SPECIALIZATIONS.items()},
        "spec": spec or "",
        "clinics": await exchange_admin.clinics() if staff.clinic_id is None else [],
        "picked": {str(i) for i in ids or []},
    }


@staff_get("/funnel", CLINIC_MANAGER | EXCHANGE_READERS)
async def funnel_page(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    first: FromQuery[str] = "",
    last: FromQuery[str] = "",
    clinic: FromQuery[list[str] | None] = None,
    specialization: FromQuery[str] = "",
) -> Template:
    lang = lang_of(request)
    now = utcnow()
    spec = specialization if specialization in SPECIALIZATIONS else None
    scope = await report_scope(staff, clinic)
    try:
        view = await funnel_reports.funnel(scope, _day(first), _day(last), spec, now)
    except (ValueError, Invalid):
        view = await funnel_reports.funnel(scope, None, None, spec, now)
    ids, figures, months = scope.clinic_ids, view.figures, view.months
    _, _, plan_fact_months = await funnel_reports.plan_vs_fact(
        scope, None, None, spec, now, back=3, ahead=3
    )
    _, _, by_spec = await funnel_reports.by_specialization(scope, None, None, now)
    why = await reason_table(ids, view.first, view.last, spec, "json")
    return await page(
        request,
        "funnel.html",
        funnel=figures,
        reasons=why.items if not isinstance(why, Response) else [],
        reserve_months=months_of_reserve(
            figures.reserve_money, [m.executed for m in months[-4:-1]]
        ),
        plan_fact=plan_fact_months,
        by_spec=[specialization_out(r) for r in by_spec],
        bars=charts.funnel_bars(figures, lang),
        month_chart=charts.monthly_chart(months, lang),
        months=months,
        first=view.first,
        last=view.last,
        **await report_filters(staff, ids, spec, lang),
    )


# --- the exchange's pages ----------------------------------------------------------------


@staff_get("/disputes", OPERATOR)
async def disputes_page(
    request: Request, viewer: NamedDependency[Viewer], clinic: FromQuery[str] = ""
) -> Template:
    rows = await desk.dispute_queue(viewer, clinic_id=_uuid(clinic), limit=200)
    now = utcnow()
    by_clinic: dict[str, int] = {}
    for d in rows:
        by_clinic[d.clinic_name] = by_clinic.get(d.clinic_name, 0) + 1
    return await page(
        request,
        "disputes.html",
        rows=rows,
        now=now,
        by_clinic=by_clinic,
        clinics=await exchange_admin.clinics(),
        picked=clinic,
    )


@staff_post("/disputes/{dispute_id:uuid}/resolution", OPERATOR)
async def resolve(
    staff: NamedDependency[StaffPrincipal],
    dispute_id: FromPath[UUID],
    data: Annotated[forms.RulingForm, Form],
) -> Redirect:
    try:
        await exchange_admin.resolve_dispute(
            dispute_id,
            outcome=data.outcome,
            note=data.note,
            actor=staff.actor,  # type: ignore[arg-type]
        )
    except NotFound:
        raise  # a page of its own, as for any missing object
    except ServiceError as exc:
        return Redirect(path=f"/admin/disputes?{urlencode({'error': exc.detail})}", status_code=303)
    return Redirect(path="/admin/disputes?msg=recorded", status_code=303)


def scorecards_steps() -> list[str]:
    return [s.value for s in MAIN_LINE]


@staff_get("/scorecards", EXCHANGE_READERS)
async def scorecards_page(request: Request) -> Template:
    return await page(
        request,
        "scorecards.html",
        scores=await reports.scorecards(None, now=utcnow()),
        steps=scorecards_steps(),
    )


@staff_get("/clinics", OPERATOR)
async def clinics_page(request: Request) -> Template:
    return await page(
        request, "clinics.html", clinics=await exchange_admin.clinics(include_archived=True)
    )


@staff_post("/clinics", OPERATOR)
async def create_clinic(data: Annotated[forms.ClinicForm, Form]) -> Redirect:
    try:
        await exchange_admin.create_clinic(
            msgspec.convert(msgspec.to_builtins(data), exchange_admin.ClinicIn)
        )
    except (ServiceError, msgspec.ValidationError) as exc:
        return Redirect(
            path=f"/admin/clinics?{urlencode({'error': _detail(exc)})}", status_code=303
        )
    return Redirect(path="/admin/clinics?msg=saved", status_code=303)


@staff_post("/clinics/{clinic_id:uuid}/archive", OPERATOR)
async def archive_clinic(clinic_id: FromPath[UUID], restore: FromQuery[bool] = False) -> Redirect:
    await exchange_admin.set_clinic_archived(clinic_id, not restore)
    return Redirect(path="/admin/clinics?msg=saved", status_code=303)


async def staff_accounts_context(after: str | None, role: str, clinic: str) -> dict:
    """The accounts list on the staff page: a page at a time, by e-mail."""
    rows = await staff_accounts.list_accounts(
        clinic_id=_uuid(clinic),
        role=Role(role) if role in Role.__members__ else None,
        after_email=after or None,
        limit=ACCOUNTS_PAGE + 1,
    )
    return {
        "accounts": rows[:ACCOUNTS_PAGE],
        "next_after": rows[ACCOUNTS_PAGE - 1].email if len(rows) > ACCOUNTS_PAGE else None,
        "f": {"role": role, "clinic": clinic},
    }


@staff_get("/staff", OPERATOR)
async def staff_page(
    request: Request,
    after: FromQuery[str] = "",
    role: FromQuery[str] = "",
    clinic: FromQuery[str] = "",
) -> Template:
    return await page(
        request,
        "staff.html",
        clinics=await exchange_admin.clinics(),
        roles=[r.value for r in Role],
        created=None,
        **await staff_accounts_context(after, role, clinic),
    )


@staff_post("/staff", OPERATOR, status_code=200)
async def create_staff(
    request: Request, viewer: NamedDependency[Viewer], data: Annotated[forms.StaffForm, Form]
) -> Response:
    try:
        made = await staff_accounts.create(
            viewer,
            email=data.email,
            role=Role(data.role),
            password=data.password,
            clinic_id=_uuid(data.clinic),
            name=data.name,
        )
    except (ServiceError, ValueError) as exc:
        return Redirect(path=f"/admin/staff?{urlencode({'error': _detail(exc)})}", status_code=303)
    return await page(
        request,
        "staff.html",
        clinics=await exchange_admin.clinics(),
        roles=[r.value for r in Role],
        created=made,
        qr=qr_svg(made.totp_uri),
        **await staff_accounts_context("", "", ""),
    )


@staff_get("/referrals/new", OPERATOR)
async def new_referral_page(request: Request) -> Template:
    return await page(
        request,
        "referral_new.html",
        clinics=await exchange_admin.clinics(),
        specializations=list(texts.SPECIALIZATIONS),
        conditions=[c.value for c in ToothCondition],
    )


@staff_post("/referrals/new", OPERATOR)
async def create_referral(
    staff: NamedDependency[StaffPrincipal], data: Annotated[forms.ReferralForm, Form]
) -> Redirect:
    try:
        items = []
        for line in data.items.strip().splitlines():
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(";")]
            spec, price, title = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
            tooth = int(parts[3]) if len(parts) > 3 and parts[3] else None
            stage = int(parts[4]) if len(parts) > 4 and parts[4] else 1
            variant = parts[5].upper() if len(parts) > 5 and parts[5] else None
            items.append(
                {
                    "specialization": spec,
                    "price": plan_form.kopecks(price, f"line {len(items) + 1}, price"),
                    "title_ru": title,
                    "tooth": tooth,
                    "stage": stage,
                    "variant": variant,
                }
            )
        plan = msgspec.convert({"items": items}, PlanIn)
        clinic_id = _uuid(data.clinic)
        if clinic_id is None:
            raise ValueError("choose a clinic")
        sent = await send_referral(
            patient=PatientIn(phone=data.phone, name=data.name),
            clinic_id=clinic_id,
            plan=plan,
            actor=staff.actor,
            idempotency_key=data.order or None,
        )
    except (ServiceError, ValueError, IndexError, msgspec.ValidationError) as exc:
        return Redirect(
            path=f"/admin/referrals/new?{urlencode({'error': _detail(exc)})}", status_code=303
        )
    return Redirect(path=f"/admin/referrals/{sent.referral_id}?msg=saved", status_code=303)


@staff_get("/audit", OPERATOR)
async def audit_page(request: Request, object_id: FromQuery[str] = "") -> Template:
    rows = await desk.audit_log(limit=200, object_id=object_id or None)
    return await page(request, "audit.html", rows=rows)


# --- errors as pages ---------------------------------------------------------------------


def to_login(request: Request, exc: NotAuthorizedException) -> Response:
    target = quote(request.url.path)
    ended = "&msg=session_ended" if request.cookies.get(COOKIE) else ""
    response = Redirect(path=f"/admin/login?next={target}{ended}", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


def as_page(request: Request, exc: Exception) -> Template:
    """Refusals and missing things as pages, in the viewer's language. (Litestar calls
    exception handlers synchronously: no database here.)"""
    lang = lang_of(request)
    if isinstance(exc, PermissionDeniedException | Forbidden):
        return render(
            request, "message.html", tz=EXCHANGE_TZ, status=403, text=word("not_for_role", lang)
        )
    if isinstance(exc, NotFoundException | NotFound):
        return render(
            request, "message.html", tz=EXCHANGE_TZ, status=404, text=word("not_found", lang)
        )
    detail = getattr(exc, "detail", "")
    return render(
        request,
        "message.html",
        tz=EXCHANGE_TZ,
        status=getattr(exc, "status", 400),
        text=f"{word('error', lang)}: {detail}",
    )


def admin_router(*handlers: Any) -> Router:
    """A router of staff pages under /admin: the staff and viewer from the session, and
    errors answered as pages (or the sign-in page)."""
    return Router(
        path="/admin",
        route_handlers=list(handlers),
        dependencies={"staff": Provide(provide_staff), "viewer": Provide(provide_viewer)},
        exception_handlers={
            NotAuthorizedException: to_login,
            PermissionDeniedException: as_page,
            NotFoundException: as_page,
            ServiceError: as_page,
        },
        include_in_schema=False,
    )


router = admin_router(
    login_page,
    login,
    logout,
    set_lang,
    home,
    referrals_page,
    new_referral_page,
    create_referral,
    referral_page,
    post_claim,
    visit_code_page,
    plan_page,
    save_plan,
    pictures_page,
    upload_picture,
    plan_pdf_page,
    calls_page,
    follow_up_page,
    plan_settings_page,
    save_plan_settings,
    ratings_page,
    funnel_page,
    disputes_page,
    resolve,
    scorecards_page,
    clinics_page,
    create_clinic,
    archive_clinic,
    staff_page,
    create_staff,
    audit_page,
)

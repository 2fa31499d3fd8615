"""Staff pages for the loop that closes: the coordinator's worklist with one-click
outcomes, the disputes about a clinic with its answers, the clinic's own scorecard,
each person's alert preferences, and the exchange's management of staff accounts.
The same services as the API (backend.services.worklist, clinic_view, staff_alerts,
staff_accounts)."""

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from admin import forms
from admin.desk_i18n import ALERT_KINDS, REASONS
from admin.views import (
    Form,
    _detail,
    _uuid,
    admin_router,
    lang_of,
    page,
    scorecards_steps,
    staff_get,
    staff_post,
)
from backend.domain.roles import Role
from backend.domain.staff_alerts import DEFAULT_KINDS, AlertKind, AlertPrefs, may_receive
from backend.domain.worklist import CAN_LET_GO
from backend.routes.staff_security import (
    CLINIC_MANAGER,
    CLINIC_STAFF,
    EXCHANGE_READERS,
    HEALTH,
    OPERATOR,
)
from backend.runtime.clock import utcnow
from backend.services import clinic_view, exchange_admin, staff_accounts, staff_alerts, worklist
from backend.services.audit import Viewer
from backend.services.errors import NotFound, ServiceError
from backend.services.staff_auth import StaffPrincipal, qr_svg

PAGE = 25
EVERYONE = CLINIC_STAFF | EXCHANGE_READERS | HEALTH


def _labels(lang: str) -> dict:
    return {
        "reason_label": lambda r: REASONS.get(r, {}).get(lang, r),
        "alert_label": lambda k: ALERT_KINDS.get(k, {}).get(lang, k),
    }


async def _clinic_tz(staff: StaffPrincipal) -> ZoneInfo:
    if staff.clinic_id is None:
        return ZoneInfo("Europe/Moscow")
    return await exchange_admin.clinic_zone(staff.clinic_id)


# --- the worklist ----------------------------------------------------------------------


@staff_get("/worklist", CLINIC_STAFF)
async def worklist_page(
    request: Request,
    viewer: NamedDependency[Viewer],
    start: FromQuery[int] = 0,
    referral: FromQuery[str] = "",
) -> Template:
    start = max(0, start)
    found = await worklist.worklist(viewer, limit=PAGE, offset=start)
    tz = await _clinic_tz(viewer.principal)
    return await page(
        request,
        "worklist.html",
        found=found,
        start=start,
        page_size=PAGE,
        picked=referral,
        can_let_go={r.value for r in CAN_LET_GO},
        today=utcnow().astimezone(tz).date().isoformat(),
        **_labels(lang_of(request)),
    )


@staff_post("/worklist/{referral_id:uuid}", CLINIC_STAFF)
async def post_outcome(
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[forms.OutcomeForm, Form],
) -> Redirect:
    tz = await _clinic_tz(staff)
    try:
        appointment_at = callback_at = None
        if data.outcome == "booked":
            appointment_at = worklist.local_time(data.appointment_date, data.appointment_time, tz)
        if data.callback_date:
            callback_at = worklist.local_time(data.callback_date, data.callback_time, tz)
        given = msgspec.convert(
            {
                "outcome": data.outcome,
                "appointment_at": appointment_at,
                "callback_at": callback_at,
                "reason": data.reason or None,
                "note": data.note,
                "key": data.key,
            },
            worklist.OutcomeIn,
            from_attributes=True,
        )
        await worklist.record_outcome(staff, referral_id, given)
    except NotFound:
        raise  # another clinic's referral: a page of its own, as for any missing object
    except (ServiceError, msgspec.ValidationError, ValueError) as exc:
        return Redirect(
            path=f"/admin/worklist?{urlencode({'error': _detail(exc)})}", status_code=303
        )
    return Redirect(path="/admin/worklist?msg=recorded", status_code=303)


# --- the clinic's disputes and scorecard -------------------------------------------------


@staff_get("/clinic-disputes", CLINIC_STAFF)
async def clinic_disputes_page(request: Request, viewer: NamedDependency[Viewer]) -> Template:
    rows = await clinic_view.disputes(viewer, limit=100)
    return await page(request, "clinic_disputes.html", rows=rows, now=utcnow())


@staff_post("/clinic-disputes/{dispute_id:uuid}/answer", CLINIC_STAFF)
async def answer_dispute(
    staff: NamedDependency[StaffPrincipal],
    dispute_id: FromPath[UUID],
    data: Annotated[forms.AnswerForm, Form],
) -> Redirect:
    try:
        await clinic_view.answer_dispute(staff, dispute_id, data.note)
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            raise
        query = urlencode({"error": _detail(exc)})
        return Redirect(path=f"/admin/clinic-disputes?{query}", status_code=303)
    return Redirect(path="/admin/clinic-disputes?msg=answered", status_code=303)


@staff_get("/scorecard", CLINIC_MANAGER)
async def scorecard_page(request: Request, staff: NamedDependency[StaffPrincipal]) -> Template:
    score = await clinic_view.own_scorecard(staff)
    return await page(
        request, "scorecards.html", scores=[score], steps=scorecards_steps(), own=True
    )


# --- alert preferences -----------------------------------------------------------------


@staff_get("/alerts", EVERYONE)
async def alerts_page(request: Request, staff: NamedDependency[StaffPrincipal]) -> Template:
    prefs = await staff_alerts.preferences(staff.staff_id)
    chosen = DEFAULT_KINDS[staff.role] if prefs.kinds is None else prefs.kinds
    recent = (
        await staff_alerts.recent(staff.clinic_id, limit=20, before_id=None)
        if staff.clinic_id
        else []
    )
    return await page(
        request,
        "alerts.html",
        prefs=prefs,
        chosen={k.value for k in chosen},
        available=[k.value for k in AlertKind if may_receive(staff.role, k)],
        recent=recent,
        **_labels(lang_of(request)),
    )


@staff_post("/alerts", EVERYONE)
async def save_alerts(request: Request, viewer: NamedDependency[Viewer]) -> Redirect:
    form = await request.form()
    kinds = frozenset(AlertKind(k) for k in form.getall("kinds", []) if k in AlertKind.__members__)
    prefs = AlertPrefs(
        kinds=kinds,
        email=form.get("email") == "on",
        crm_task=form.get("crm_task") == "on",
        digest=form.get("digest") == "on",
        crm_user_id=(form.get("crm_user_id") or "").strip()[:32] or None,
        lang="en" if form.get("lang") == "en" else "ru",
    )
    await staff_alerts.save_own_preferences(viewer, prefs)
    return Redirect(path="/admin/alerts?msg=saved", status_code=303)


# --- staff accounts (the exchange) -------------------------------------------------------


def _staff_back(**query: str) -> Redirect:
    return Redirect(path=f"/admin/staff?{urlencode(query)}", status_code=303)


async def _account_action(run) -> Redirect:
    try:
        await run()
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            raise
        return _staff_back(error=_detail(exc))
    return _staff_back(msg="saved")


@staff_post("/staff/{staff_id:uuid}/deactivate", OPERATOR)
async def deactivate(viewer: NamedDependency[Viewer], staff_id: FromPath[UUID]) -> Redirect:
    return await _account_action(lambda: staff_accounts.deactivate(viewer, staff_id))


@staff_post("/staff/{staff_id:uuid}/reactivate", OPERATOR)
async def reactivate(viewer: NamedDependency[Viewer], staff_id: FromPath[UUID]) -> Redirect:
    return await _account_action(lambda: staff_accounts.reactivate(viewer, staff_id))


@staff_post("/staff/{staff_id:uuid}/password", OPERATOR)
async def reset_password(
    viewer: NamedDependency[Viewer],
    staff_id: FromPath[UUID],
    data: Annotated[forms.PasswordForm, Form],
) -> Redirect:
    return await _account_action(
        lambda: staff_accounts.reset_password(viewer, staff_id, data.password)
    )


@staff_post("/staff/{staff_id:uuid}/authenticator", OPERATOR, status_code=200)
async def reset_authenticator(
    request: Request, viewer: NamedDependency[Viewer], staff_id: FromPath[UUID]
) -> Response:
    done = await staff_accounts.reset_authenticator(viewer, staff_id)
    return await page(
        request,
        "staff_enrol.html",
        account=done.account,
        qr=qr_svg(done.totp_uri),
        uri=done.totp_uri,
    )


@staff_post("/staff/{staff_id:uuid}/role", OPERATOR)
async def change_role(
    viewer: NamedDependency[Viewer], staff_id: FromPath[UUID], data: Annotated[forms.RoleForm, Form]
) -> Redirect:
    if data.role not in Role.__members__:
        return _staff_back(error=f"unknown role {data.role}")
    return await _account_action(
        lambda: staff_accounts.change_role(viewer, staff_id, Role(data.role), _uuid(data.clinic))
    )


router = admin_router(
    worklist_page,
    post_outcome,
    clinic_disputes_page,
    answer_dispute,
    scorecard_page,
    alerts_page,
    save_alerts,
    deactivate,
    reactivate,
    reset_password,
    reset_authenticator,
    change_role,
)

"""The settings pages (issue 20): a clinic's manager sets its working hours, holidays,
SMS sender name and duration norms; the exchange's operator sets its defaults and any
clinic's settings, the first-contact SLA and answer windows included. The same service
as the API (backend.services.clinic_settings): every change audited, reports restated.

A router of its own under /admin, beside admin.views's, so that the pages of other
parts of the panel and these do not share one long module."""

from datetime import date, time
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin.views import admin_router, page, staff_get, staff_post
from backend.domain.clinic_settings import SettingValues, effective_settings
from backend.domain.norms import Specialization
from backend.domain.roles import Role
from backend.routes.staff_security import (
    CLINIC_MANAGER,
    OPERATOR,
)
from backend.services import clinic_settings, exchange_admin
from backend.services.audit import Viewer
from backend.services.clinic_settings import EXCHANGE_ONLY, NormChange, SettingsView
from backend.services.errors import Invalid, ServiceError
from backend.services.texts import SPECIALIZATIONS

HOUR_FIELDS = ("opens", "closes")
NUMBER_FIELDS = ("first_contact_sla_minutes", "answer_window_hours", "visit_grace_hours")


def _target(clinic_id: UUID | None, staff_clinic: UUID | None) -> str:
    return (
        "/admin/settings"
        if clinic_id is None or clinic_id == staff_clinic
        else (f"/admin/clinics/{clinic_id}/settings")
    )


async def _settings_page(request: Request, viewer: Viewer, clinic_id: UUID | None) -> Template:
    view = await clinic_settings.settings_of(clinic_id)
    lang = "en" if request.cookies.get("plantrack_lang") == "en" else "ru"
    operator = viewer.principal.role is Role.exchange_operator
    clinic_name = None
    others = []
    if clinic_id is not None:
        clinic_name = next(
            (
                c.name
                for c in await exchange_admin.clinics(include_archived=True)
                if c.id == clinic_id
            ),
            None,
        )
    elif operator:
        others = await exchange_admin.clinics()
    return await page(
        request,
        "settings.html",
        view=view,
        own=view.own,
        eff=view.effective,
        scope="clinic" if clinic_id else "exchange",
        clinic_name=clinic_name,
        clinics=others,
        may_set_terms=operator,
        action=_target(clinic_id, viewer.principal.clinic_id),
        specializations={str(k): v[lang] for k, v in SPECIALIZATIONS.items()},
        weekdays=WEEKDAYS[lang],
        restatement=view.restatement,
    )


WEEKDAYS = {
    "ru": ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}


def _parse_settings(form: Any, operator: bool, view: SettingsView) -> dict[str, Any]:
    """The form as a change of every field shown: empty means "inherit"; working days
    as the layer below has them, while this layer had none, stay inherited."""
    change: dict[str, Any] = {}
    for field in HOUR_FIELDS:
        raw = (form.get(field) or "").strip()
        try:
            change[field] = time.fromisoformat(raw) if raw else None
        except ValueError as exc:
            raise Invalid(f"{field}: a time such as 09:00") from exc
    checked = tuple(sorted({int(d) for d in form.getall("weekday", []) if d.isdigit()}))
    below = effective_settings(view.inherited, SettingValues()).hours.weekdays
    inherit = view.own.weekdays is None and checked == tuple(sorted(below))
    change["weekdays"] = None if inherit else checked
    holidays_text = (form.get("holidays") or "").replace(",", "\n")
    try:
        days = tuple(date.fromisoformat(d.strip()) for d in holidays_text.split() if d.strip())
    except ValueError as exc:
        raise Invalid("holidays: one date a line, as 2027-01-01") from exc
    change["holidays"] = days or None
    change["sender_name"] = (form.get("sender_name") or "").strip() or None
    if operator:
        for field in NUMBER_FIELDS:
            raw = (form.get(field) or "").strip()
            if raw and not raw.isdigit():
                raise Invalid(f"{field}: a whole number")
            change[field] = int(raw) if raw else None
    return change


def _parse_norms(form: Any) -> list[NormChange]:
    changes = []
    for spec in Specialization:
        chair = (form.get(f"chair_{spec}") or "").strip()
        course = (form.get(f"course_{spec}") or "").strip()
        if not chair and not course:
            changes.append(NormChange(specialization=spec))
            continue
        if not (chair.isdigit() and course.isdigit()):
            raise Invalid(f"{spec}: chair minutes and course days, both whole numbers, or neither")
        changes.append(
            NormChange(specialization=spec, chair_minutes=int(chair), course_days=int(course))
        )
    return changes


def _only_changed_norms(
    view: SettingsView, changes: list[NormChange], clinic_id: UUID | None
) -> list[NormChange]:
    """Leave alone what the form shows as it is, so that saving the page does not
    restate the reports for nothing."""
    mine = "clinic" if clinic_id else "exchange"
    current = {n.specialization: n for n in view.norms}
    out = []
    for c in changes:
        n = current[str(c.specialization)]
        own = n.source == mine
        if c.chair_minutes is None and not own:
            continue
        if own and (c.chair_minutes, c.course_days) == (n.chair_minutes, n.course_days):
            continue
        out.append(c)
    return out


async def _save(request: Request, viewer: Viewer, clinic_id: UUID | None) -> Redirect:
    operator = viewer.principal.role is Role.exchange_operator
    target = _target(clinic_id, viewer.principal.clinic_id)
    try:
        view = await clinic_settings.settings_of(clinic_id)
        change = _parse_settings(await request.form(), operator, view)
        if not operator:
            change = {k: v for k, v in change.items() if k not in EXCHANGE_ONLY}
        await clinic_settings.change_settings(viewer, clinic_id, change)
    except ServiceError as exc:
        return Redirect(path=f"{target}?{urlencode({'error': exc.detail})}", status_code=303)
    return Redirect(path=f"{target}?msg=saved", status_code=303)


async def _save_norms(request: Request, viewer: Viewer, clinic_id: UUID | None) -> Redirect:
    target = _target(clinic_id, viewer.principal.clinic_id)
    try:
        changes = _parse_norms(await request.form())
        view = await clinic_settings.settings_of(clinic_id)
        changes = _only_changed_norms(view, changes, clinic_id)
        if changes:
            await clinic_settings.change_norms(viewer, clinic_id, changes)
    except ServiceError as exc:
        return Redirect(path=f"{target}?{urlencode({'error': exc.detail})}", status_code=303)
    return Redirect(path=f"{target}?msg=saved", status_code=303)


def _scope_of(viewer: Viewer) -> UUID | None:
    """A manager's own clinic; the exchange's defaults for its operator."""
    return viewer.principal.clinic_id


SETTINGS_ROLES = CLINIC_MANAGER | OPERATOR


@staff_get("/settings", SETTINGS_ROLES)
async def settings_page(request: Request, viewer: NamedDependency[Viewer]) -> Template:
    return await _settings_page(request, viewer, _scope_of(viewer))


@staff_post("/settings", SETTINGS_ROLES)
async def save_settings(request: Request, viewer: NamedDependency[Viewer]) -> Redirect:
    return await _save(request, viewer, _scope_of(viewer))


@staff_post("/settings/norms", SETTINGS_ROLES)
async def save_norms(request: Request, viewer: NamedDependency[Viewer]) -> Redirect:
    return await _save_norms(request, viewer, _scope_of(viewer))


@staff_get("/clinics/{clinic_id:uuid}/settings", OPERATOR)
async def clinic_settings_page(
    request: Request, viewer: NamedDependency[Viewer], clinic_id: FromPath[UUID]
) -> Template:
    return await _settings_page(request, viewer, clinic_id)


@staff_post("/clinics/{clinic_id:uuid}/settings", OPERATOR)
async def save_clinic_settings(
    request: Request, viewer: NamedDependency[Viewer], clinic_id: FromPath[UUID]
) -> Redirect:
    return await _save(request, viewer, clinic_id)


@staff_post("/clinics/{clinic_id:uuid}/settings/norms", OPERATOR)
async def save_clinic_norms(
    request: Request, viewer: NamedDependency[Viewer], clinic_id: FromPath[UUID]
) -> Redirect:
    return await _save_norms(request, viewer, clinic_id)


router = admin_router(
    settings_page,
    save_settings,
    save_norms,
    clinic_settings_page,
    save_clinic_settings,
    save_clinic_norms,
)

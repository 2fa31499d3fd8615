"""Settings routes (issue 20): a clinic's own (/api/v1/clinic/settings), the exchange's
defaults (/api/v1/exchange/settings) and any clinic's as the exchange sees them
(/api/v1/exchange/clinics/{id}/settings). Every change is audited; one that moves
deadlines or expected money restates the reports (backend.services.clinic_settings)."""

from datetime import date, datetime, time
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import get, patch, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from backend.routes import staff_bodies as b
from backend.routes.docs import example_body, responds
from backend.routes.staff_security import CLINIC_MANAGER, EXCHANGE_READERS, OPERATOR, roles
from backend.services import clinic_settings
from backend.services.audit import Viewer
from backend.services.clinic_settings import NormChange, SettingsView
from backend.services.staff_auth import StaffPrincipal

ERRORS = (400, 401, 403, 404, 422)


class NormOut(msgspec.Struct, frozen=True, kw_only=True):
    specialization: str
    chair_minutes: int
    course_days: int
    source: Annotated[str, msgspec.Meta(description="clinic | exchange | default")]
    note: str


class RestatementOut(msgspec.Struct, frozen=True, kw_only=True):
    """Reports being restated after a change: the worker re-folds referrals in chunks."""

    reason: str
    requested_at: datetime
    done: int
    total: int
    finished_at: datetime | None


class SettingsOut(msgspec.Struct, frozen=True, kw_only=True):
    clinic_id: Annotated[UUID | None, msgspec.Meta(description="null: the exchange's defaults")]
    opens: b.ClockTime
    closes: b.ClockTime
    weekdays: Annotated[list[int], msgspec.Meta(description="working days, Monday = 0")]
    holidays: Annotated[list[date], msgspec.Meta(description="days off although weekdays")]
    first_contact_sla_minutes: Annotated[
        int, msgspec.Meta(description="working minutes to the first call; overdue after")
    ]
    answer_window_hours: Annotated[
        int, msgspec.Meta(description="how long a patient has to confirm a claim")
    ]
    visit_grace_hours: Annotated[
        int, msgspec.Meta(description="after an appointment, until a silent visit is overdue")
    ]
    sender_name: Annotated[
        str | None, msgspec.Meta(description="the clinic's SMS sender name (alphanumeric)")
    ]
    source: Annotated[
        dict[str, str],
        msgspec.Meta(description="per setting: clinic, exchange or default (who set it)"),
    ]
    norms: list[NormOut]
    restatement: RestatementOut | None


SETTINGS_EXAMPLE: dict[str, Any] = {
    "clinic_id": "0b9f2c1e-6a4d-4c8e-9f1a-2d3e4f5a6b7c",
    "opens": "10:00",
    "closes": "19:00",
    "weekdays": [0, 1, 2, 3, 4],
    "holidays": ["2027-01-01", "2027-01-02"],
    "first_contact_sla_minutes": 120,
    "answer_window_hours": 72,
    "visit_grace_hours": 3,
    "sender_name": "Ulybka",
    "source": {
        "opens": "clinic",
        "closes": "clinic",
        "weekdays": "clinic",
        "holidays": "clinic",
        "first_contact_sla_minutes": "default",
        "answer_window_hours": "default",
        "visit_grace_hours": "default",
        "sender_name": "clinic",
    },
    "norms": [
        {
            "specialization": "implantology",
            "chair_minutes": 480,
            "course_days": 150,
            "source": "clinic",
            "note": "set by the clinic on 2026-12-02",
        }
    ],
    "restatement": {
        "reason": "settings: closes, opens",
        "requested_at": "2026-12-02T10:00:00Z",
        "done": 200,
        "total": 340,
        "finished_at": None,
    },
}
CHANGE_EXAMPLE = {"opens": "10:00", "closes": "19:00", "holidays": ["2027-01-01"]}
NORMS_EXAMPLE = {
    "items": [{"specialization": "implantology", "chair_minutes": 480, "course_days": 150}]
}
SETTINGS_TEXT = (
    "Working hours and holidays (the first-contact SLA and 'overdue' are counted in them), "
    "the first-contact SLA and answer windows (the exchange's terms: only its operator "
    "sets them), the SMS sender name, and the duration norms per specialization, each "
    "with who set it. A change is audited; one that moves deadlines or expected money "
    "restates the reports (restatement: progress). docs/metrics.md."
)


def settings_out(view: SettingsView) -> SettingsOut:
    e = view.effective
    return SettingsOut(
        clinic_id=view.clinic_id,
        opens=e.hours.opens.strftime("%H:%M"),
        closes=e.hours.closes.strftime("%H:%M"),
        weekdays=sorted(e.hours.weekdays),
        holidays=sorted(e.hours.holidays),
        first_contact_sla_minutes=int(e.first_contact_sla.total_seconds() // 60),
        answer_window_hours=int(e.answer_window.total_seconds() // 3600),
        visit_grace_hours=int(e.visit_grace.total_seconds() // 3600),
        sender_name=e.sender_name,
        source=dict(e.source),
        norms=[NormOut(**msgspec.structs.asdict(n)) for n in view.norms],
        restatement=msgspec.convert(view.restatement, RestatementOut, from_attributes=True)
        if view.restatement
        else None,
    )


def change_values(data: b.SettingsChange) -> dict[str, Any]:
    """The fields given, as the domain's values (times, tuples)."""
    out: dict[str, Any] = {}
    for field in b.SettingsChange.__struct_fields__:
        value = getattr(data, field)
        if value is msgspec.UNSET:
            continue
        if field in ("opens", "closes") and value is not None:
            value = time.fromisoformat(value)
        elif field in ("weekdays", "holidays") and value is not None:
            value = tuple(value)
        elif field == "sender_name" and value is not None:
            value = value.strip()
        out[field] = value
    return out


def norm_changes(data: b.NormsIn) -> list[NormChange]:
    return [
        NormChange(
            specialization=n.specialization,
            chair_minutes=n.chair_minutes,
            course_days=n.course_days,
        )
        for n in data.items
    ]


# --- the clinic's own -------------------------------------------------------------------


@get(
    "/settings",
    summary="The clinic's settings",
    description=SETTINGS_TEXT,
    opt=roles(CLINIC_MANAGER),
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Settings in force", errors=(401, 403)),
)
async def clinic_settings_get(staff: NamedDependency[StaffPrincipal]) -> SettingsOut:
    return settings_out(await clinic_settings.settings_of(staff.clinic_id))


@patch(
    "/settings",
    summary="Change the clinic's settings",
    description="Working hours, holidays, sender name; null puts a setting back to the "
    "exchange's. The SLA and answer windows are the exchange's to set (403).",
    opt=roles(CLINIC_MANAGER),
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Settings in force", errors=ERRORS),
)
async def clinic_settings_patch(
    viewer: NamedDependency[Viewer],
    data: Annotated[b.SettingsChange, example_body(CHANGE_EXAMPLE)],
) -> SettingsOut:
    view = await clinic_settings.change_settings(
        viewer, viewer.principal.clinic_id, change_values(data)
    )
    return settings_out(view)


@put(
    "/settings/norms",
    summary="Set the clinic's duration norms",
    description="Per specialization: chair minutes per item and course days; both null: "
    "back to the exchange's. Restates expected money and planned durations.",
    opt=roles(CLINIC_MANAGER),
    status_code=200,
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Settings in force", errors=ERRORS),
)
async def clinic_norms_put(
    viewer: NamedDependency[Viewer], data: Annotated[b.NormsIn, example_body(NORMS_EXAMPLE)]
) -> SettingsOut:
    view = await clinic_settings.change_norms(
        viewer, viewer.principal.clinic_id, norm_changes(data)
    )
    return settings_out(view)


# --- the exchange's ----------------------------------------------------------------------


@get(
    "/settings",
    summary="The exchange's default settings",
    description=SETTINGS_TEXT,
    opt=roles(EXCHANGE_READERS),
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Defaults in force", errors=(401, 403)),
)
async def exchange_settings_get() -> SettingsOut:
    return settings_out(await clinic_settings.settings_of(None))


@patch(
    "/settings",
    summary="Change the exchange's default settings",
    description="Every clinic without its own value follows; their reports are restated.",
    opt=roles(OPERATOR),
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Defaults in force", errors=ERRORS),
)
async def exchange_settings_patch(
    viewer: NamedDependency[Viewer],
    data: Annotated[b.SettingsChange, example_body(CHANGE_EXAMPLE)],
) -> SettingsOut:
    return settings_out(await clinic_settings.change_settings(viewer, None, change_values(data)))


@put(
    "/settings/norms",
    summary="Set the exchange's duration norms",
    description="The defaults every clinic without its own norm follows.",
    opt=roles(OPERATOR),
    status_code=200,
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Defaults in force", errors=ERRORS),
)
async def exchange_norms_put(
    viewer: NamedDependency[Viewer], data: Annotated[b.NormsIn, example_body(NORMS_EXAMPLE)]
) -> SettingsOut:
    return settings_out(await clinic_settings.change_norms(viewer, None, norm_changes(data)))


@get(
    "/clinics/{clinic_id:uuid}/settings",
    summary="A clinic's settings",
    description=SETTINGS_TEXT,
    opt=roles(EXCHANGE_READERS),
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Settings in force", errors=(401, 403, 404)),
)
async def any_clinic_settings_get(clinic_id: FromPath[UUID]) -> SettingsOut:
    return settings_out(await clinic_settings.settings_of(clinic_id))


@patch(
    "/clinics/{clinic_id:uuid}/settings",
    summary="Change a clinic's settings",
    description="Any of them, the SLA and answer windows included.",
    opt=roles(OPERATOR),
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Settings in force", errors=ERRORS),
)
async def any_clinic_settings_patch(
    viewer: NamedDependency[Viewer],
    clinic_id: FromPath[UUID],
    data: Annotated[b.SettingsChange, example_body(CHANGE_EXAMPLE)],
) -> SettingsOut:
    view = await clinic_settings.change_settings(viewer, clinic_id, change_values(data))
    return settings_out(view)


@put(
    "/clinics/{clinic_id:uuid}/settings/norms",
    summary="Set a clinic's duration norms",
    description="As the clinic itself would, at joining the exchange or later.",
    opt=roles(OPERATOR),
    status_code=200,
    responses=responds(SettingsOut, SETTINGS_EXAMPLE, "Settings in force", errors=ERRORS),
)
async def any_clinic_norms_put(
    viewer: NamedDependency[Viewer],
    clinic_id: FromPath[UUID],
    data: Annotated[b.NormsIn, example_body(NORMS_EXAMPLE)],
) -> SettingsOut:
    return settings_out(await clinic_settings.change_norms(viewer, clinic_id, norm_changes(data)))


CLINIC_HANDLERS = [clinic_settings_get, clinic_settings_patch, clinic_norms_put]
EXCHANGE_HANDLERS = [
    exchange_settings_get,
    exchange_settings_patch,
    exchange_norms_put,
    any_clinic_settings_get,
    any_clinic_settings_patch,
    any_clinic_norms_put,
]

"""Each staff member's own alert preferences: /api/v1/staff/alert-preferences."""

from typing import Annotated

import msgspec
from litestar import get, put
from litestar.di import NamedDependency

from backend.domain.staff_alerts import DEFAULT_KINDS, AlertKind, AlertPrefs, may_receive
from backend.routes import clinic_loop_examples as ex
from backend.routes import staff_bodies as b
from backend.routes.docs import example_body, responds
from backend.routes.staff_security import (
    CLINIC_STAFF,
    EXCHANGE_READERS,
    HEALTH,
    roles,
    staff_api,
)
from backend.services import staff_alerts
from backend.services.audit import Viewer
from backend.services.staff_auth import StaffPrincipal

EVERYONE = CLINIC_STAFF | EXCHANGE_READERS | HEALTH


class AlertPrefsOut(msgspec.Struct, frozen=True, kw_only=True):
    kinds: list[AlertKind]  # what this person gets now
    email: bool
    crm_task: bool
    digest: bool
    crm_user_id: str | None
    lang: str
    available: list[AlertKind]  # what the role may get at all
    defaults: bool  # the kinds are the role's defaults


def _out(prefs: AlertPrefs, staff: StaffPrincipal) -> AlertPrefsOut:
    kinds = DEFAULT_KINDS[staff.role] if prefs.kinds is None else prefs.kinds
    return AlertPrefsOut(
        kinds=sorted(kinds),
        email=prefs.email,
        crm_task=prefs.crm_task,
        digest=prefs.digest,
        crm_user_id=prefs.crm_user_id,
        lang=prefs.lang,
        available=[k for k in AlertKind if may_receive(staff.role, k)],
        defaults=prefs.kinds is None,
    )


@get(
    "/alert-preferences",
    summary="My alert preferences",
    description="Which events I hear of, by which channel (e-mail; a task in the clinic's "
    "CRM, with my CRM user id), at once or in one e-mail each morning (SLA alerts always "
    "at once), in which language.",
    opt=roles(EVERYONE),
    responses=responds(AlertPrefsOut, ex.PREFS_OUT, "The preferences", errors=(401, 403)),
)
async def get_prefs(staff: NamedDependency[StaffPrincipal]) -> AlertPrefsOut:
    return _out(await staff_alerts.preferences(staff.staff_id), staff)


@put(
    "/alert-preferences",
    summary="Set my alert preferences",
    description="kinds: null for the role's defaults; kinds the role may not receive are "
    "dropped. Written to the audit log.",
    opt=roles(EVERYONE),
    responses=responds(AlertPrefsOut, ex.PREFS_OUT, "Saved", errors=(400, 401, 403, 422)),
)
async def put_prefs(
    staff: NamedDependency[StaffPrincipal],
    viewer: NamedDependency[Viewer],
    data: Annotated[b.AlertPrefsIn, example_body(ex.PREFS)],
) -> AlertPrefsOut:
    prefs = AlertPrefs(
        kinds=None if data.kinds is None else frozenset(data.kinds),
        email=data.email,
        crm_task=data.crm_task,
        digest=data.digest,
        crm_user_id=data.crm_user_id,
        lang=data.lang,
    )
    saved = await staff_alerts.save_own_preferences(viewer, prefs)
    return _out(saved, staff)


router = staff_api("/api/v1/staff", "staff", [get_prefs, put_prefs])

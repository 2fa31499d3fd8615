"""The exchange's clinics: list, add, read (with the CRM or MIS connection), change,
archive; and their settings and price lists."""

from typing import Annotated
from uuid import UUID

from litestar import Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from backend.routes import settings as settings_routes
from backend.routes import staff_examples as ex
from backend.routes import staff_present as present
from backend.routes import staff_schemas as s
from backend.routes.docs import ID_ERRORS, example_body, responds
from backend.routes.exchange import exchange_router
from backend.routes.staff_security import EXCHANGE_READERS, OPERATOR, roles
from backend.services import (
    exchange_admin,
    integration_setup,
)
from backend.services.audit import Viewer
from backend.services.staff_auth import StaffPrincipal


@get(
    "/clinics",
    summary="Clinics",
    description="Every clinic, archived ones with ?archived=1.",
    opt=roles(EXCHANGE_READERS),
    responses=responds(s.ClinicList, ex.CLINIC_LIST, "Clinics", errors=(401, 403)),
)
async def list_clinics(archived: FromQuery[bool] = False) -> s.ClinicList:
    rows = await exchange_admin.clinics(include_archived=archived)
    return s.ClinicList(items=[present.clinic(r) for r in rows])


@post(
    "/clinics",
    summary="Add a clinic",
    description="A partner clinic: name, city, time zone, how it receives referrals, its "
    "first-contact SLA.",
    opt=roles(OPERATOR),
    responses=responds(
        s.ClinicOut, ex.CLINIC_OUT, "The clinic", status=201, errors=(400, 401, 403, 422)
    ),
)
async def create_clinic(
    data: Annotated[exchange_admin.ClinicIn, example_body(ex.CLINIC_IN)],
) -> s.ClinicOut:
    clinic_id = await exchange_admin.create_clinic(data)
    return present.clinic(await exchange_admin.clinic(clinic_id))


@get(
    "/clinics/{clinic_id:uuid}",
    summary="One clinic",
    description="A clinic's settings.",
    opt=roles(EXCHANGE_READERS),
    responses=responds(s.ClinicOut, ex.CLINIC_OUT, "The clinic", errors=ID_ERRORS),
)
async def get_clinic(
    request: Request, staff: NamedDependency[StaffPrincipal], clinic_id: FromPath[UUID]
) -> s.ClinicOut:
    row = await exchange_admin.clinic(clinic_id)
    settings = request.app.state.settings
    # The inbound URL carries the clinic's credential: operators see it, analysts do not.
    view = await integration_setup.describe(
        clinic_id,
        secret_key=settings.secret_key,
        public_url=settings.public_url if staff.role in OPERATOR else None,
    )
    return present.clinic(row, view)


@patch(
    "/clinics/{clinic_id:uuid}",
    summary="Change a clinic",
    description="Send only what changes.",
    opt=roles(OPERATOR),
    responses=responds(s.ClinicOut, ex.CLINIC_OUT, "The clinic", errors=(400, 401, 403, 404, 422)),
)
async def patch_clinic(
    viewer: NamedDependency[Viewer],
    clinic_id: FromPath[UUID],
    data: Annotated[exchange_admin.ClinicChange, example_body(ex.CLINIC_CHANGE)],
) -> s.ClinicOut:
    return present.clinic(await exchange_admin.update_clinic(clinic_id, data, viewer=viewer))


@post(
    "/clinics/{clinic_id:uuid}/archive",
    summary="Archive a clinic",
    description="It receives no new referrals; its history stays. ?restore=1 undoes it.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(s.ClinicOut, ex.CLINIC_OUT, "The clinic", errors=ID_ERRORS),
)
async def archive_clinic(
    clinic_id: FromPath[UUID], restore: FromQuery[bool] = False
) -> s.ClinicOut:
    return present.clinic(await exchange_admin.set_clinic_archived(clinic_id, not restore))


router = exchange_router(
    list_clinics,
    create_clinic,
    get_clinic,
    patch_clinic,
    archive_clinic,
    *settings_routes.EXCHANGE_HANDLERS,
)

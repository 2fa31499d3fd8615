"""The exchange's dispute queue and its rulings."""

from typing import Annotated
from uuid import UUID

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from backend.routes import staff_bodies as b
from backend.routes import staff_examples as ex
from backend.routes import staff_present as present
from backend.routes import staff_schemas as s
from backend.routes.docs import example_body, responds
from backend.routes.exchange import exchange_router
from backend.routes.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    decode_cursor,
)
from backend.routes.staff_security import OPERATOR, roles
from backend.runtime.clock import utcnow
from backend.services import (
    desk,
    exchange_admin,
)
from backend.services.audit import Viewer
from backend.services.staff_auth import StaffPrincipal


@get(
    "/disputes",
    summary="The dispute queue",
    description="Milestones where the patient denies the clinic's claim, or says something "
    "happened the clinic has not recorded: both sides' words, evidence, age. Oldest first.",
    opt=roles(OPERATOR),
    responses=responds(s.DisputeList, ex.DISPUTES, "A page", errors=(400, 401, 403)),
)
async def list_disputes(
    viewer: NamedDependency[Viewer],
    clinic_id: FromQuery[UUID | None] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> s.DisputeList:
    now = utcnow()
    rows = await desk.dispute_queue(
        viewer, clinic_id=clinic_id, limit=limit + 1, after=decode_cursor(cursor)
    )
    return present.dispute_page(rows, limit, now)


@post(
    "/disputes/{dispute_id:uuid}/resolution",
    summary="Rule on a dispute",
    description="happened (the step counts, verified by the exchange) or did_not_happen "
    "(the clinic's claims for it are set aside), with a note. Itself an event.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(
        s.ClaimRecorded, ex.CLAIM_OUT, "Recorded", errors=(400, 401, 403, 404, 409, 422)
    ),
)
async def resolve(
    staff: NamedDependency[StaffPrincipal],
    dispute_id: FromPath[UUID],
    data: Annotated[b.ResolutionIn, example_body(ex.RESOLUTION_IN)],
) -> s.ClaimRecorded:
    result = await exchange_admin.resolve_dispute(
        dispute_id, outcome=data.outcome, note=data.note, actor=staff.actor
    )
    return present.recorded(result)


router = exchange_router(list_disputes, resolve)

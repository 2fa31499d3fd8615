"""Referrals across clinics: send a patient to a clinic, list, open the card; and import
referrals with price lists."""

from typing import Annotated
from uuid import UUID

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from backend.domain.funnel import Step
from backend.routes import plan_import as plan_import_routes
from backend.routes import staff_bodies as b
from backend.routes import staff_examples as ex
from backend.routes import staff_schemas as s
from backend.routes.clinic import referral_card, referral_page
from backend.routes.docs import example_body, responds
from backend.routes.exchange import exchange_router
from backend.routes.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
)
from backend.routes.staff_security import OPERATOR, roles
from backend.services import desk
from backend.services.audit import Viewer
from backend.services.referrals import send_referral
from backend.services.staff_auth import StaffPrincipal

ID_ERRORS = (401, 403, 404)


@post(
    "/referrals",
    summary="Send a patient to a clinic",
    description="The patient (phone, name), the clinic and the estimated plan (items, tooth "
    "states before/after). The answer holds the invite code for the patient's link. An "
    "Idempotency-Key (your order id) makes a repeated request return the same referral.",
    opt=roles(OPERATOR),
    responses=responds(
        s.ReferralCreated,
        ex.REFERRAL_CREATED,
        "The referral",
        status=201,
        errors=(400, 401, 403, 404, 422),
    ),
)
async def create_referral(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    data: Annotated[b.NewReferralIn, example_body(ex.REFERRAL_IN)],
) -> s.ReferralCreated:
    sent = await send_referral(
        patient=data.patient,
        clinic_id=data.clinic_id,
        plan=data.plan,
        actor=staff.actor,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return s.ReferralCreated(
        id=sent.referral_id,
        patient_id=sent.patient_id,
        invite_code=sent.invite_code,
        duplicate=sent.duplicate,
    )


@get(
    "/referrals",
    summary="All referrals",
    description="Across clinics, with the clinic's filters plus clinic_id; behind=true "
    "lists open plans past their expected schedule (by the duration norms) for follow-up.",
    opt=roles(OPERATOR),
    responses=responds(s.ReferralList, ex.REFERRAL_LIST, "A page", errors=(400, 401, 403)),
)
async def list_referrals(
    viewer: NamedDependency[Viewer],
    clinic_id: FromQuery[UUID | None] = None,
    step: FromQuery[Step | None] = None,
    overdue: FromQuery[bool] = False,
    disputed: FromQuery[bool] = False,
    behind: FromQuery[bool] = False,
    q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> s.ReferralList:
    filters = desk.ReferralFilter(
        clinic_id=clinic_id,
        step=step,
        overdue=overdue,
        disputed=disputed,
        behind=behind,
        search=q,
    )
    return await referral_page(viewer, filters, limit, cursor)


@get(
    "/referrals/{referral_id:uuid}",
    summary="A referral card",
    description="As the clinic sees it. Written to the audit log.",
    opt=roles(OPERATOR),
    responses=responds(s.ReferralCardOut, ex.CARD, "The card", errors=ID_ERRORS),
)
async def get_referral(
    viewer: NamedDependency[Viewer], referral_id: FromPath[UUID]
) -> s.ReferralCardOut:
    return await referral_card(viewer, referral_id)


router = exchange_router(
    create_referral, list_referrals, get_referral, *plan_import_routes.HANDLERS
)

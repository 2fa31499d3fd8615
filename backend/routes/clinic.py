"""The clinic's API: /api/v1/clinic. Its own referrals only; anything else is a 404."""

from typing import Annotated
from uuid import UUID

from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from backend.domain.claims import Claim
from backend.domain.events import Source
from backend.domain.funnel import Step
from backend.routes import funnel, plan_document
from backend.routes import settings as settings_routes
from backend.routes import staff_bodies as b
from backend.routes import staff_examples as ex
from backend.routes import staff_present as present
from backend.routes import staff_schemas as s
from backend.routes.docs import PictureForm, example_body, responds
from backend.routes.media import MAX_UPLOAD, PictureUpload, picture_form, store_picture
from backend.routes.paging import (
    DEFAULT_LIMIT,
    MAX_LIST,
    Cursor,
    Limit,
    ListLimit,
    decode_cursor,
)
from backend.routes.staff_security import (
    CLINIC_MANAGER,
    CLINIC_STAFF,
    roles,
    staff_api,
)
from backend.runtime.clock import utcnow
from backend.services import desk, patient_prices, visit_codes
from backend.services.audit import Viewer
from backend.services.claims import record_clinic_claim
from backend.services.referrals import PlanIn, revise_plan
from backend.services.staff_auth import StaffPrincipal, qr_svg

StepFilter = Annotated[Step | None, QueryParameter(description="only referrals at this step")]
ID_ERRORS = (401, 403, 404)


@get(
    "/referrals",
    summary="The clinic's referrals",
    description="Newest first, with filters: step, overdue, disputed, search by name or phone.",
    opt=roles(CLINIC_STAFF),
    responses=responds(s.ReferralList, ex.REFERRAL_LIST, "A page", errors=(400, 401, 403)),
)
async def list_referrals(
    viewer: NamedDependency[Viewer],
    step: StepFilter = None,
    overdue: FromQuery[bool] = False,
    disputed: FromQuery[bool] = False,
    q: Annotated[str | None, QueryParameter(max_length=100, description="name or phone")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> s.ReferralList:
    filters = desk.ReferralFilter(step=step, overdue=overdue, disputed=disputed, search=q)
    return await referral_page(viewer, filters, limit, cursor)


async def referral_page(
    viewer: Viewer, filters: desk.ReferralFilter, limit: int, cursor: str | None
) -> s.ReferralList:
    """A page of referrals with the desk's filters (the exchange's list has more)."""
    rows = await desk.list_referrals(viewer, filters, limit=limit + 1, before=decode_cursor(cursor))
    return present.referral_rows(rows, limit, with_phone=True)


async def referral_card(viewer: Viewer, referral_id: UUID) -> s.ReferralCardOut:
    card = await desk.referral_card(viewer, referral_id, utcnow())
    return present.card(card, await desk.appointments_of(referral_id))


@get(
    "/referrals/{referral_id:uuid}",
    summary="The referral card",
    description="The patient, the estimated and actual plans, verification states, "
    "appointments and the patient's rating. Written to the audit log.",
    opt=roles(CLINIC_STAFF),
    responses=responds(s.ReferralCardOut, ex.CARD, "The card", errors=ID_ERRORS),
)
async def get_referral(
    viewer: NamedDependency[Viewer], referral_id: FromPath[UUID]
) -> s.ReferralCardOut:
    return await referral_card(viewer, referral_id)


@get(
    "/referrals/{referral_id:uuid}/timeline",
    summary="The referral's timeline",
    description="Every event from every source (panel, CRM, MIS, app, exchange), in the "
    "order things happened, with those taken back by a correction marked.",
    opt=roles(CLINIC_STAFF),
    responses=responds(s.Timeline, ex.TIMELINE, "Events", errors=ID_ERRORS),
)
async def get_timeline(viewer: NamedDependency[Viewer], referral_id: FromPath[UUID]) -> s.Timeline:
    return present.timeline(await desk.referral_card(viewer, referral_id, utcnow()))


@post(
    "/referrals/{referral_id:uuid}/claims",
    summary="Record a step",
    description=(
        "One funnel step, tagged by `kind`: received; contacted (outcome booked with "
        "appointment_at, declined with reason, or unreachable); visited; no_show; item_done "
        "(item_id); payment (amount in kopecks); completed; closed (reason). Optional "
        "occurred_at. Send an Idempotency-Key header to make retries safe."
    ),
    status_code=200,
    opt=roles(CLINIC_STAFF),
    responses=responds(
        s.ClaimRecorded, ex.CLAIM_OUT, "Recorded", errors=(400, 401, 403, 404, 409, 422)
    ),
)
async def post_claim(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[Claim, example_body(ex.CLAIM_IN)],
) -> s.ClaimRecorded:
    key = request.headers.get("idempotency-key")
    result = await record_clinic_claim(
        referral_id,
        data,
        source=Source.clinic_panel,
        actor=staff.actor,
        idempotency_key=f"panel:{staff.clinic_id}:{key}" if key else None,
        clinic_id=desk.clinic_scope(staff),
    )
    return present.recorded(result)


@put(
    "/referrals/{referral_id:uuid}/plan",
    summary="Set the clinic's plan",
    description="A new version of the plan beside the estimate, with a reason the patient "
    "will read. Keep an item's item_id to say it is the same procedure.",
    status_code=200,
    opt=roles(CLINIC_STAFF),
    responses=responds(
        s.PlanRevised, ex.PLAN_OUT, "The new version", errors=(400, 401, 403, 404, 422)
    ),
)
async def put_plan(
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[b.PlanRevisionIn, example_body(ex.PLAN_IN)],
) -> s.PlanRevised:
    referral = await desk.referral_in_scope(staff, referral_id)
    version = await revise_plan(
        referral_id,
        PlanIn(items=data.items, chosen_variant=data.chosen_variant, currency=referral.currency),
        reason=data.reason,
        source=Source.clinic_panel,
        actor=staff.actor,
    )
    return s.PlanRevised(version=version)


@post(
    "/referrals/{referral_id:uuid}/visit-code",
    summary="A visit code for reception",
    description="A six-digit one-time code (and its QR) for the patient to enter in the app: "
    "valid 30 minutes, once. It co-signs the visit.",
    status_code=200,
    opt=roles(CLINIC_STAFF),
    responses=responds(s.VisitCodeOut, ex.VISIT_CODE, "The code", errors=ID_ERRORS),
)
async def post_visit_code(
    request: Request, staff: NamedDependency[StaffPrincipal], referral_id: FromPath[UUID]
) -> s.VisitCodeOut:
    await desk.referral_in_scope(staff, referral_id)
    issued = await visit_codes.issue_code(
        referral_id, secret=request.app.state.settings.secret_key, issued_by=staff.actor
    )
    return s.VisitCodeOut(
        code=issued.code, expires_at=issued.expires_at, qr_svg=qr_svg(issued.code)
    )


@get(
    "/ratings",
    summary="What patients said about the contact",
    description="Each patient's latest rating of how the clinic got in touch, newest first.",
    opt=roles(CLINIC_MANAGER),
    responses=responds(s.RatingList, ex.RATINGS, "Ratings", errors=(401, 403)),
)
async def get_ratings(viewer: NamedDependency[Viewer]) -> s.RatingList:
    rows = await desk.ratings(viewer, viewer.principal.clinic_id)
    return s.RatingList(items=[present.rating(r) for r in rows])


@get(
    "/nobody-called",
    summary="Patients who say nobody called",
    description="Open referrals whose patient's last word is that the clinic never called: "
    f"the coordinator's call list, longest waiting first, at most {MAX_LIST}.",
    opt=roles(CLINIC_STAFF),
    responses=responds(s.NobodyCalledList, ex.NOBODY, "The list", errors=(400, 401, 403)),
)
async def get_nobody_called(
    viewer: NamedDependency[Viewer], limit: ListLimit = MAX_LIST
) -> s.NobodyCalledList:
    rows = await desk.nobody_called(viewer, viewer.principal.clinic_id, limit=limit)
    return s.NobodyCalledList(items=[present.nobody_called(r) for r in rows])


@get(
    "/follow-up",
    summary="Plans behind schedule",
    description="Open referrals whose plan is behind its expected schedule (stages timed by "
    "the duration norms): the clinic's follow-up list. Their patients got a nudge too. "
    f"Furthest behind first, at most {MAX_LIST}.",
    opt=roles(CLINIC_STAFF),
    responses=responds(s.ReferralList, ex.REFERRAL_LIST, "The list", errors=(400, 401, 403)),
)
async def get_follow_up(
    viewer: NamedDependency[Viewer], limit: ListLimit = MAX_LIST
) -> s.ReferralList:
    rows = await desk.follow_up(viewer, viewer.principal.clinic_id, limit=limit)
    return present.referral_rows(rows, len(rows), with_phone=True)


@post(
    "/referrals/{referral_id:uuid}/media",
    summary="Attach a picture",
    description="A before/after photo or X-ray of one of the clinic's referrals (JPEG, PNG "
    "or WebP, up to 15 MB) as multipart form data: kind, phase (before, after, progress), "
    "tooth (FDI; none for the whole mouth), caption. It is re-encoded, so metadata such as "
    "GPS position never reaches the record. The patient sees it in the app by phase.",
    opt=roles(CLINIC_STAFF),
    operation_class=PictureForm,
    request_max_body_size=MAX_UPLOAD + 64 * 1024,
    responses=responds(
        s.MediaCreated,
        {"id": "0196f0e4-3b1a-7c22-8d55-6c1f2a9b4e01"},
        "Stored",
        status=201,
        errors=(400, 401, 403, 404, 413, 422),
    ),
)
async def upload_media(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[
        PictureUpload,
        picture_form({"kind": "photo", "phase": "after", "tooth": 36, "caption": "Имплант"}),
    ],
) -> s.MediaCreated:
    await desk.referral_in_scope(staff, referral_id)
    return s.MediaCreated(
        id=await store_picture(request, referral_id, data, uploaded_by=staff.actor)
    )


@get(
    "/referrals/{referral_id:uuid}/plan.pdf",
    summary="The patient's plan to print",
    description="The same A4 colour document the patient prints (GET /me/referrals/{id}/"
    "plan.pdf): in the patient's language, every option side by side. Written to the audit "
    "log.",
    media_type="application/pdf",
    opt=roles(CLINIC_STAFF),
    responses=responds(
        bytes, "(PDF document)", "The plan", media_type="application/pdf", errors=ID_ERRORS
    ),
)
async def get_plan_pdf(
    request: Request, viewer: NamedDependency[Viewer], referral_id: FromPath[UUID]
) -> Response:
    return await plan_document.staff_print(request.app.state.settings, viewer, referral_id)


@get(
    "/settings/patient-prices",
    summary="Do patients see prices?",
    description="Whether the clinic's patients see prices: item prices, each option's "
    "total and the printed plan's totals. On by default.",
    opt=roles(CLINIC_STAFF),
    responses=responds(s.PatientPricesOut, {"show_prices": True}, "The setting", errors=(401, 403)),
)
async def get_patient_prices(staff: NamedDependency[StaffPrincipal]) -> s.PatientPricesOut:
    return s.PatientPricesOut(show_prices=await patient_prices.prices_shown(staff.clinic_id))


@put(
    "/settings/patient-prices",
    summary="Show or hide prices from patients",
    description="The clinic manager's choice (seed 004): with false, the patient's plan "
    "screen, each option and the printed plan show what will be done but no money.",
    status_code=200,
    opt=roles(CLINIC_MANAGER),
    responses=responds(s.PatientPricesOut, {"show_prices": False}, "Saved", errors=(400, 401, 403)),
)
async def put_patient_prices(
    staff: NamedDependency[StaffPrincipal],
    viewer: NamedDependency[Viewer],
    data: Annotated[b.PatientPricesIn, example_body({"show_prices": False})],
) -> s.PatientPricesOut:
    shown = await patient_prices.show_prices(viewer, staff.clinic_id, data.show_prices)
    return s.PatientPricesOut(show_prices=shown)


router = staff_api(
    "/api/v1/clinic",
    "clinic",
    [
        list_referrals,
        get_referral,
        get_timeline,
        post_claim,
        put_plan,
        post_visit_code,
        get_ratings,
        get_nobody_called,
        get_follow_up,
        get_patient_prices,
        put_patient_prices,
        upload_media,
        get_plan_pdf,
        *funnel.CLINIC_HANDLERS,
        *settings_routes.CLINIC_HANDLERS,
    ],
)

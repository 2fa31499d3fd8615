"""The exchange's API: /api/v1/exchange. Operators run it; analysts read the funnel and
the scorecards but no patient's contact data."""

from dataclasses import dataclass
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Request, Router, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, FromQuery, KwargDefinition, QueryParameter

from backend.clock import utcnow
from backend.domain.funnel import Step
from backend.integrations.config import IntegrationIn
from backend.routes import clinic_reports, funnel
from backend.routes import plan_import as plan_import_routes
from backend.routes import settings as settings_routes
from backend.routes import staff_examples as ex
from backend.routes import staff_present as present
from backend.routes import staff_schemas as s
from backend.routes.clinic import referral_card
from backend.routes.docs import PictureForm, example_body, responds
from backend.routes.funnel import ClinicFilter
from backend.routes.paging import (
    DEFAULT_LIMIT,
    Cursor,
    IdCursor,
    Limit,
    RowId,
    decode_cursor,
    encode_cursor,
)
from backend.routes.staff_accounts import list_staff
from backend.routes.staff_security import (
    EXCHANGE_READERS,
    OPERATOR,
    provide_staff,
    provide_viewer,
    roles,
    staff_guard,
)
from backend.services import (
    desk,
    exchange_admin,
    integrations,
    patient_links,
    reports,
    staff_accounts,
)
from backend.services.audit import Viewer
from backend.services.errors import Invalid, NotFound
from backend.services.media import attach_media
from backend.services.referrals import PatientIn, PlanIn, Tooth, send_referral
from backend.services.staff_auth import StaffPrincipal, qr_svg
from backend.store import integrations as integration_store
from backend.store import parties
from backend.store.desk import clinics as all_clinics

ID_ERRORS = (401, 403, 404)


class NewReferralIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    patient: PatientIn
    clinic_id: UUID
    plan: PlanIn


@get(
    "/clinics",
    summary="Clinics",
    description="Every clinic, archived ones with ?archived=1.",
    opt=roles(EXCHANGE_READERS),
    responses=responds(s.ClinicList, ex.CLINIC_LIST, "Clinics", errors=(401, 403)),
)
async def list_clinics(archived: FromQuery[bool] = False) -> s.ClinicList:
    rows = await all_clinics(include_archived=archived)
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
    return present.clinic(await parties.clinic(clinic_id))


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
    row = await parties.clinic(clinic_id)
    if row is None:
        raise NotFound("no such clinic")
    settings = request.app.state.settings
    # The inbound URL carries the clinic's credential: operators see it, analysts do not.
    view = await integrations.describe(
        clinic_id,
        secret_key=settings.secret_key,
        public_url=settings.public_url if staff.role in OPERATOR else None,
    )
    return present.clinic(row, view)


@put(
    "/clinics/{clinic_id:uuid}/integration",
    summary="Connect a clinic's CRM or MIS",
    description="One of: bitrix24 (rest_url = the portal's incoming webhook, "
    "application_token of its outgoing webhook, stage_map keyed by STAGE_ID with the "
    "pipeline prefix, LEAD:<STATUS_ID> for leads), amocrm (base_url, account_id, "
    "access_token — long-lived, or with refresh_token, client_id, client_secret, "
    "redirect_uri for OAuth — pipeline_id, stage_map keyed PIPELINE:STATUS), webhook (a "
    "signing secret is made and shown once) or ident (an integration key is made and "
    "shown once). Stage-map values are claim bodies as in POST …/claims; kinds received, "
    "contacted, visited, no_show, completed, closed. A booking stage needs "
    "fields.appointment_at: the CRM field holding the visit's time. The inbound URL and "
    "generated secrets stay on a repeated PUT unless ?rotate=1.",
    opt=roles(OPERATOR),
    responses=responds(
        s.IntegrationConfigured,
        ex.INTEGRATION_CONFIGURED,
        "Connected",
        errors=(400, 401, 403, 404, 422),
    ),
)
async def put_integration(
    request: Request,
    clinic_id: FromPath[UUID],
    data: Annotated[IntegrationIn, example_body(ex.INTEGRATION_IN)],
    rotate: FromQuery[bool] = False,
) -> s.IntegrationConfigured:
    settings = request.app.state.settings
    done = await integrations.configure(
        clinic_id,
        data,
        secret_key=settings.secret_key,
        public_url=settings.public_url,
        rotate=rotate,
    )
    return s.IntegrationConfigured(
        integration=present.integration_out(done.integration),
        signing_secret=done.signing_secret,
        integration_key=done.integration_key,
    )


@get(
    "/clinics/{clinic_id:uuid}/integration/stages",
    summary="The clinic's CRM stages beside its stage map",
    description="Read live from the CRM (Bitrix24 crm.status.list, amoCRM pipelines): "
    "each stage's key as the map writes it, name, the CRM's own semantics (process, "
    "success, failure) and the claim the map makes of it (null: unmapped, so deliveries "
    "in that stage are recorded as unmapped, never guessed); and map keys the CRM does "
    "not know. Also the deal's (lead's) fields with the setting that uses each (and "
    "fields the settings name that the CRM lacks), and the first products of its "
    "catalogue with their codes (crm.deal.fields and crm.product.list; amoCRM "
    "leads/custom_fields and the products list). 503 when the CRM does not answer, 502 "
    "when it refuses our credentials.",
    opt=roles(OPERATOR),
    responses=responds(
        integrations.CrmStages, ex.CRM_STAGES, "The stages", errors=(401, 403, 404, 409, 502, 503)
    ),
)
async def get_crm_stages(request: Request, clinic_id: FromPath[UUID]) -> integrations.CrmStages:
    return await integrations.crm_stages(
        clinic_id, secret_key=request.app.state.settings.secret_key
    )


@get(
    "/inbox",
    summary="Deliveries from clinics' systems",
    description="Every delivery as it was stored, newest first, with what became of it: "
    "processed, ignored (not about our referrals), unmapped (a stage the map does not "
    "know), failed (with the error), rejected (failed authentication), received (waiting).",
    opt=roles(OPERATOR),
    responses=responds(s.DeliveryList, ex.DELIVERY_LIST, "A page", errors=(400, 401, 403)),
)
async def list_inbox(
    clinic_id: FromQuery[UUID | None] = None,
    status: Annotated[
        Literal["received", "processed", "ignored", "unmapped", "failed", "rejected"] | None,
        QueryParameter(),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: IdCursor = None,
) -> s.DeliveryList:
    rows = await integration_store.deliveries(
        clinic_id=clinic_id, status=status, limit=limit + 1, before_id=cursor
    )
    page, more = rows[:limit], len(rows) > limit
    return s.DeliveryList(
        items=[present.delivery(r) for r in page],
        next_cursor=str(page[-1]["id"]) if more and page else None,
    )


@get(
    "/inbox/{delivery_id:int}",
    summary="One delivery, raw",
    description="Headers and body exactly as received, and the outcome.",
    opt=roles(OPERATOR),
    responses=responds(
        s.DeliveryDetail, ex.DELIVERY_DETAIL, "The delivery", errors=(400, *ID_ERRORS)
    ),
)
async def get_delivery(delivery_id: RowId) -> s.DeliveryDetail:
    row = await integration_store.delivery(delivery_id)
    if row is None:
        raise NotFound("no such delivery")
    return present.delivery(row, detail=True)  # type: ignore[return-value]


@post(
    "/inbox/{delivery_id:int}/replay",
    summary="Process a delivery again",
    description="After fixing a stage map, say. Claims it already made are not made again; "
    "a CRM object is re-read as it stands now.",
    status_code=202,
    opt=roles(OPERATOR),
    responses=responds(
        s.DeliveryOut, ex.DELIVERY, "Queued", status=202, errors=(400, 401, 403, 404, 409)
    ),
)
async def replay_delivery(delivery_id: RowId) -> s.DeliveryOut:
    return present.delivery(await integrations.replay(delivery_id))


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


@post(
    "/staff",
    summary="Add a staff account",
    description="A clinic coordinator or manager (with clinic_id), or an exchange role. The "
    "answer carries the authenticator key once, as a URI and a QR.",
    opt=roles(OPERATOR),
    responses=responds(
        s.StaffCreated,
        ex.STAFF_OUT,
        "The account",
        status=201,
        errors=(400, 401, 403, 404, 409, 422),
    ),
)
async def create_staff(
    viewer: NamedDependency[Viewer], data: Annotated[s.StaffIn, example_body(ex.STAFF_IN)]
) -> s.StaffCreated:
    staff = await staff_accounts.create(
        viewer,
        email=data.email,
        role=data.role,
        password=data.password,
        clinic_id=data.clinic_id,
        name=data.name,
    )
    return s.StaffCreated(
        staff_id=staff.staff_id,
        email=staff.email,
        role=staff.role,
        clinic_id=staff.clinic_id,
        totp_uri=staff.totp_uri,
        totp_qr_svg=qr_svg(staff.totp_uri),
    )


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
    data: Annotated[NewReferralIn, example_body(ex.REFERRAL_IN)],
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
    rows = await desk.list_referrals(
        viewer,
        behind=behind,
        clinic_id=clinic_id,
        step=step.value if step else None,
        overdue=overdue,
        disputed=disputed,
        search=q,
        limit=limit + 1,
        before=decode_cursor(cursor),
    )
    return present.referral_rows(rows, limit, with_phone=True)


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


@dataclass
class MediaUpload:
    file: UploadFile
    kind: Literal["xray", "photo", "scan"]
    phase: Literal["before", "after", "progress"]
    tooth: Tooth | None = None
    # Litestar reads a form's constraints from its own definitions (services.media checks it).
    caption: Annotated[str, KwargDefinition(max_length=300)] = ""


MAX_UPLOAD = 15 * 1024 * 1024


@post(
    "/referrals/{referral_id:uuid}/media",
    summary="Attach a picture",
    description="An X-ray or photo (JPEG, PNG or WebP, up to 15 MB) as multipart form data. "
    "It is re-encoded: metadata such as GPS position never reaches the record.",
    opt=roles(OPERATOR),
    operation_class=PictureForm,
    request_max_body_size=MAX_UPLOAD + 64 * 1024,
    responses=responds(
        s.MediaCreated, ex.MEDIA_OUT, "Stored", status=201, errors=(400, 401, 403, 404, 413, 422)
    ),
)
async def upload_media(
    request: Request,
    referral_id: FromPath[UUID],
    data: Annotated[
        MediaUpload,
        Body(
            media_type=RequestEncodingType.MULTI_PART,
            examples=[
                Example(
                    summary="example", value={"kind": "xray", "phase": "before", "caption": "ОПТГ"}
                )
            ],
        ),
    ],
) -> s.MediaCreated:
    content = await data.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise Invalid("the picture is over 15 MB")
    media_id = await attach_media(
        request.app.state.media_files,
        referral_id=referral_id,
        data=content,
        kind=data.kind,
        phase=data.phase,
        tooth=data.tooth,
        caption=data.caption,
    )
    return s.MediaCreated(id=media_id)


@post(
    "/referrals/{referral_id:uuid}/transfer",
    summary="Move a patient to another clinic",
    description="Mid-plan: the items not done, and their money, go to a new referral at the "
    "other clinic, linked to this one.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(
        s.TransferOut, ex.TRANSFER_OUT, "Transferred", errors=(400, 401, 403, 404, 409, 422)
    ),
)
async def transfer(
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[s.TransferIn, example_body(ex.TRANSFER_IN)],
) -> s.TransferOut:
    t = await exchange_admin.transfer_referral(
        referral_id, to_clinic_id=data.clinic_id, reason=data.reason, actor=staff.actor
    )
    return s.TransferOut(**msgspec.structs.asdict(t))


@post(
    "/referrals/{referral_id:uuid}/patient-links/revoke",
    summary="Revoke the patient's SMS links",
    description="Every personal link to this referral's web page stops working at once (a "
    "link forwarded, or a text sent to someone else's phone); the page answers 404 like for "
    "a link that never existed. An SMS sent later carries a new link.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(s.LinksRevoked, ex.LINKS_REVOKED, "Revoked", errors=(401, 403, 404)),
)
async def revoke_patient_links(referral_id: FromPath[UUID]) -> s.LinksRevoked:
    revoked = await patient_links.revoke(referral_id, utcnow())
    return s.LinksRevoked(revoked_links=revoked.links)


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
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    return s.DisputeList(
        items=[present.dispute(d, now) for d in page],
        next_cursor=encode_cursor(last.since, last.id) if more and last else None,
    )


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
    data: Annotated[s.ResolutionIn, example_body(ex.RESOLUTION_IN)],
) -> s.ClaimRecorded:
    result = await exchange_admin.resolve_dispute(
        dispute_id, outcome=data.outcome, note=data.note, actor=staff.actor
    )
    return s.ClaimRecorded(
        event_id=result.event.id, duplicate=result.duplicate, step=result.fold.step.value
    )


@get(
    "/scorecards",
    summary="Clinic scorecards side by side",
    description="Trust (share of claims patients confirmed, with its 95% lower bound), "
    "first-contact time as the clinic and as patients report it, the share who say nobody "
    "called, average rating, how far referrals got.",
    opt=roles(EXCHANGE_READERS),
    responses=responds(s.ScorecardList, ex.SCORECARDS, "Scorecards", errors=(400, 401, 403)),
)
async def get_scorecards(clinic_id: ClinicFilter = None) -> s.ScorecardList:
    scores = await reports.scorecards(clinic_id, now=utcnow())
    return s.ScorecardList(items=[present.scorecard(x) for x in scores])


@get(
    "/audit",
    summary="The audit log",
    description="Who looked at which patient's data, when and from where. Newest first.",
    opt=roles(OPERATOR),
    responses=responds(s.AuditList, ex.AUDIT, "A page", errors=(400, 401, 403)),
)
async def get_audit(
    object_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
    actor: Annotated[str | None, QueryParameter(max_length=120)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: IdCursor = None,
) -> s.AuditList:
    rows = await desk.audit_log(limit=limit + 1, before_id=cursor, object_id=object_id, actor=actor)
    page, more = rows[:limit], len(rows) > limit
    items = [
        s.AuditEntry(
            **{
                **{f: r[f] for f in s.AuditEntry.__struct_fields__ if f != "details"},
                "details": msgspec.json.decode(r["details"]) if r["details"] else {},
            }
        )
        for r in page
    ]
    return s.AuditList(items=items, next_cursor=str(page[-1]["id"]) if more and page else None)


router = Router(
    path="/api/v1/exchange",
    route_handlers=[
        list_clinics,
        create_clinic,
        get_clinic,
        put_integration,
        get_crm_stages,
        patch_clinic,
        archive_clinic,
        create_staff,
        list_staff,
        create_referral,
        list_referrals,
        get_referral,
        upload_media,
        transfer,
        revoke_patient_links,
        list_disputes,
        resolve,
        get_scorecards,
        get_audit,
        list_inbox,
        get_delivery,
        replay_delivery,
        *plan_import_routes.HANDLERS,
        *funnel.EXCHANGE_HANDLERS,
        *clinic_reports.EXCHANGE_HANDLERS,
        *settings_routes.EXCHANGE_HANDLERS,
    ],
    guards=[staff_guard],
    dependencies={"staff": Provide(provide_staff), "viewer": Provide(provide_viewer)},
    security=[{"bearer": []}],
    tags=["exchange"],
)

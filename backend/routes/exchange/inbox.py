"""A clinic's CRM or MIS: connecting it, its stages read live, and the inbox of what its
system delivered, with a replay."""

from typing import Annotated, Literal
from uuid import UUID

from litestar import Request, get, post, put
from litestar.params import FromPath, FromQuery, QueryParameter

from backend.domain.integration_settings import IntegrationIn
from backend.routes import staff_examples as ex
from backend.routes import staff_present as present
from backend.routes import staff_schemas as s
from backend.routes.docs import ID_ERRORS, example_body, responds
from backend.routes.exchange import exchange_router
from backend.routes.paging import (
    DEFAULT_LIMIT,
    IdCursor,
    Limit,
    RowId,
)
from backend.routes.staff_security import OPERATOR, roles
from backend.services import (
    inbox,
    integration_desk,
    integration_setup,
)


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
    done = await integration_setup.configure(
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
    "leads/custom_fields and the products list): catalog_total says how many products "
    "the catalogue holds (null when the CRM does not count them) and catalog_truncated "
    "whether the list is cut (Bitrix24: 200 products; amoCRM: 250). 503 when the CRM "
    "does not answer, 502 when it refuses our credentials.",
    opt=roles(OPERATOR),
    responses=responds(
        integration_setup.CrmStages,
        ex.CRM_STAGES,
        "The stages",
        errors=(401, 403, 404, 409, 502, 503),
    ),
)
async def get_crm_stages(
    request: Request, clinic_id: FromPath[UUID]
) -> integration_setup.CrmStages:
    return await integration_setup.crm_stages(
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
    rows = await integration_desk.deliveries(
        clinic_id=clinic_id, status=status, limit=limit + 1, before_id=cursor
    )
    page, more = rows[:limit], len(rows) > limit
    return s.DeliveryList(
        items=[present.delivery(r) for r in page],
        next_cursor=str(page[-1].id) if more and page else None,
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
    row = await integration_desk.delivery(delivery_id)
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
    return present.delivery(await inbox.replay(delivery_id))


router = exchange_router(put_integration, get_crm_stages, list_inbox, get_delivery, replay_delivery)

"""The exchange's price lists, and referrals imported from an AI analysis."""

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from backend.domain.plan_import import ImportedPlan
from backend.routes import staff_bodies as b
from backend.routes import staff_examples as ex
from backend.routes import staff_schemas as s
from backend.routes.docs import example_body, responds
from backend.routes.paging import DEFAULT_LIMIT, Limit
from backend.routes.staff_security import EXCHANGE_READERS, OPERATOR, roles
from backend.services import plan_import
from backend.services.staff_auth import StaffPrincipal

After = Annotated[
    str | None, QueryParameter(description="the last code of the previous page", max_length=32)
]
PRICE_ERRORS = (400, 401, 403, 404, 413, 422)
# A whole price list or an analysis with its findings: more than the default 1 MiB.
MAX_IMPORT = 4 * 1024 * 1024


async def _page(clinic_id: UUID | None, after: str | None, limit: int) -> s.PriceList:
    rows = await plan_import.price_page(clinic_id, after=after, limit=limit + 1)
    page = rows[:limit]
    return s.PriceList(
        items=[msgspec.convert(r, s.PriceEntryOut, from_attributes=True) for r in page],
        next_cursor=page[-1].code if len(rows) > limit else None,
    )


@get(
    "/prices",
    summary="The exchange's price list",
    description="Procedure lines by code (the national nomenclature of medical services "
    "works well as codes): specialization, titles, price in minor units, the tooth's "
    "condition after it, course length when it differs from the norm. Imports price "
    "by these, a clinic's own lines first.",
    opt=roles(EXCHANGE_READERS),
    responses=responds(s.PriceList, ex.PRICE_LIST, "A page, in code order", errors=(400, 401, 403)),
)
async def get_prices(after: After = None, limit: Limit = DEFAULT_LIMIT) -> s.PriceList:
    return await _page(None, after, limit)


@put(
    "/prices",
    summary="Write lines of the exchange's price list",
    description="The given codes are written; codes not given stay as they are.",
    opt=roles(OPERATOR),
    request_max_body_size=MAX_IMPORT,
    responses=responds(s.PricesSaved, ex.PRICES_SAVED, "Written", errors=PRICE_ERRORS),
)
async def put_prices(data: Annotated[b.PricesIn, example_body(ex.PRICES_IN)]) -> s.PricesSaved:
    return s.PricesSaved(saved=await plan_import.set_prices(None, data.entries))


@get(
    "/clinics/{clinic_id:uuid}/prices",
    summary="A clinic's own price lines",
    description="The lines where this clinic's prices differ from the exchange's list.",
    opt=roles(EXCHANGE_READERS),
    responses=responds(s.PriceList, ex.PRICE_LIST, "A page, in code order", errors=PRICE_ERRORS),
)
async def get_clinic_prices(
    clinic_id: FromPath[UUID], after: After = None, limit: Limit = DEFAULT_LIMIT
) -> s.PriceList:
    return await _page(clinic_id, after, limit)


@put(
    "/clinics/{clinic_id:uuid}/prices",
    summary="Write lines of a clinic's own price list",
    description="They take precedence over the exchange's lines with the same code.",
    opt=roles(OPERATOR),
    request_max_body_size=MAX_IMPORT,
    responses=responds(s.PricesSaved, ex.PRICES_SAVED, "Written", errors=PRICE_ERRORS),
)
async def put_clinic_prices(
    clinic_id: FromPath[UUID], data: Annotated[b.PricesIn, example_body(ex.PRICES_IN)]
) -> s.PricesSaved:
    return s.PricesSaved(saved=await plan_import.set_prices(clinic_id, data.entries))


@post(
    "/referrals/import",
    summary="Send a patient with a plan from an AI analysis",
    description="The analysis (format plantrack.ai-analysis/1, see docs/plan-import.md) "
    "becomes the estimated plan: procedures priced from the clinic's and the exchange's "
    "price lists, durations from the norms, tooth states before and after. A procedure "
    "code missing from the price list is refused; unknown or uncertain findings are left "
    "off the chart and listed in notes. ?dry_run=1 shows the plan without sending. The "
    "analysis_id (or an Idempotency-Key) makes a repeated import return the first referral.",
    opt=roles(OPERATOR),
    request_max_body_size=MAX_IMPORT,
    responses={
        **responds(
            s.ImportOut, ex.IMPORT_OUT, "The referral and its plan", status=201, errors=PRICE_ERRORS
        ),
        # ?dry_run=1: the plan as it would be sent, no referral.
        **responds(s.ImportOut, {**ex.IMPORT_OUT, "referral": None}, "The plan only (dry run)"),
    },
)
async def import_referral(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    data: Annotated[b.ImportIn, example_body(ex.IMPORT_IN)],
    dry_run: FromQuery[bool] = False,
) -> Response[s.ImportOut]:
    if dry_run:
        plan = await plan_import.preview(data.clinic_id, data.analysis, data.min_probability)
        return Response(
            s.ImportOut(referral=None, plan=_plan_out(plan, data.currency)), status_code=200
        )
    sent, plan = await plan_import.import_referral(
        patient=data.patient,
        clinic_id=data.clinic_id,
        analysis=data.analysis,
        currency=data.currency,
        min_probability=data.min_probability,
        actor=staff.actor,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    referral = s.ReferralCreated(
        id=sent.referral_id,
        patient_id=sent.patient_id,
        invite_code=sent.invite_code,
        duplicate=sent.duplicate,
    )
    return Response(
        s.ImportOut(referral=referral, plan=_plan_out(plan, data.currency)), status_code=201
    )


def _plan_out(plan: ImportedPlan, currency: str) -> s.ImportedPlanOut:
    return s.ImportedPlanOut(
        items=list(plan.items),
        teeth=[
            s.ImportedTooth(tooth=t.tooth, phase=t.phase, condition=t.condition, variant=t.variant)
            for t in plan.teeth
        ],
        total=plan.total,
        currency=currency,
        notes=list(plan.notes),
        variants=list(plan.variants),
        explanations=list(plan.explanations),
    )


HANDLERS = [get_prices, put_prices, get_clinic_prices, put_clinic_prices, import_referral]

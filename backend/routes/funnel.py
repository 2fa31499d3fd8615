"""The funnel-family routes (funnel, cohorts, plan vs fact, per specialization), written
once and mounted per audience: the clinic's manager sees the clinic's own, the exchange the
clinics it picks. Tables come as JSON or as CSV/XLSX rows."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from backend.domain.money_funnel import Funnel
from backend.domain.norms import Specialization
from backend.domain.plan_fact import PlanFactMonth, SpecializationRow, average
from backend.domain.roles import Role
from backend.routes import staff_examples as ex
from backend.routes import staff_present as present
from backend.routes import staff_schemas as s
from backend.routes.clinic_reports import (
    CONVERSION_EXAMPLE,
    CONVERSION_TEXT,
    REASONS_EXAMPLE,
    REASONS_TEXT,
    ConversionTable,
    ReasonTable,
    conversion_table,
    reason_table,
)
from backend.routes.docs import TABLE_ERRORS, responds
from backend.routes.exports import Cell, Format, table_response
from backend.routes.staff_security import CLINIC_MANAGER, EXCHANGE_READERS, roles
from backend.runtime.clock import utcnow
from backend.services import funnel_reports
from backend.services.funnel_reports import Scope
from backend.services.reports import CohortRow
from backend.services.staff_auth import StaffPrincipal

MONTH = r"^20\d{2}-(0[1-9]|1[0-2])$"  # plantrack has no data before 2000
FromMonth = Annotated[
    str | None, QueryParameter(name="from", pattern=MONTH, description="first cohort, YYYY-MM")
]
ToMonth = Annotated[
    str | None, QueryParameter(name="to", pattern=MONTH, description="last cohort, YYYY-MM")
]
First = Annotated[date | None, QueryParameter(name="from", description="first local day")]
Last = Annotated[date | None, QueryParameter(name="to", description="last local day (inclusive)")]
CityFilter = Annotated[
    str | None, QueryParameter(max_length=100, description="only clinics in this city")
]
ClinicFilter = Annotated[
    list[UUID] | None,
    QueryParameter(name="clinic_id", description="one or more clinics; all when absent"),
]
SpecializationFilter = Annotated[
    Specialization | None,
    QueryParameter(name="specialization", description="only cases of this main specialization"),
]
By = Annotated[
    Literal["clinic", "coordinator", "specialization"] | None,
    QueryParameter(
        description="rows per clinic, coordinator (who made the contact claim) or specialization"
    ),
]
COHORT_HEADERS = ["cohort", "referrals", "in_money"]
PLAN_FACT_TEXT = (
    "Month by month (from..to, YYYY-MM; five months back to six ahead by default): the "
    "money each plan's schedule expects then (every line at the end of its stage, stages "
    "back to back from the first visit or the booked appointment, lengths from the "
    "duration norms), the money executed (split by verification) and paid. Months ahead "
    "are what is still expected. ?format=csv or xlsx downloads it. docs/metrics.md."
)
SPECIALIZATIONS_TEXT = (
    "Per main specialization of the case, for the months from..to (the last 12 by "
    "default): the average check of the referrals sent then (the exchange's estimate, the "
    "clinic's plan of those accepted and their own estimate, executed so far per treated "
    "patient, the plan's over- or under-run against the same referrals' estimate), and "
    "the average actual vs scheduled length of the plans "
    "completed then. ?format=csv or xlsx downloads it. docs/metrics.md."
)


def funnel_rows(f: Funnel) -> list[list[Cell]]:
    def split(x) -> list[Cell]:
        return [x.verified, x.unverified, x.disputed]

    rows: list[list[Cell]] = [
        ["in", f.in_count, f.in_money, None, None, None],
        ["transferred in", f.transferred_in_count, f.transferred_in_money, None, None, None],
        ["transferred out", f.transferred_out_count, f.transferred_out_money, None, None, None],
        ["accepted", f.accepted_count, f.accepted_money, *split(f.accepted_split)],
        ["executed", None, f.executed_money, *split(f.executed_split)],
        ["executed: this period's plans", None, f.executed_this_period, None, None, None],
        ["executed: earlier plans", None, f.executed_earlier, None, None, None],
        ["paid", None, f.paid_money, *split(f.paid_split)],
        ["reserve at the end", f.reserve_count, f.reserve_money, None, None, None],
        *(
            [f"reserve: came in {cohort}", None, money, None, None, None]
            for cohort, money in f.reserve_by_cohort.items()
        ),
        ["lost", f.lost_count, f.lost_money, None, None, None],
        *(
            [f"lost: {reason}", lost.count, lost.money, None, None, None]
            for reason, lost in f.lost_by_reason.items()
        ),
    ]
    return rows


FUNNEL_HEADERS = ["figure", "count", "money", "verified", "unverified", "disputed"]


def funnel_download(f: Funnel, format: str) -> Response:
    return table_response(f"funnel-{f.first}-{f.last}", format, FUNNEL_HEADERS, funnel_rows(f))


def cohort_out(
    clinic_ids: list[UUID] | None, first: str, last: str, rows: list[CohortRow], format: str
) -> s.CohortTable | Response:
    if format == "json":
        items = msgspec.convert(rows, list[s.CohortOut], from_attributes=True)
        return s.CohortTable(clinics=clinic_ids, items=items)
    width = max((len(r.executed) for r in rows), default=0)
    headers = COHORT_HEADERS + [f"executed M+{k}" for k in range(width)]
    headers += [f"share M+{k}, %" for k in range(width)]
    table: list[list[Cell]] = []
    for r in rows:
        pad = [None] * (width - len(r.executed))
        table.append([r.cohort, r.referrals, r.in_money, *r.executed, *pad, *r.share, *pad])
    return table_response(f"cohorts-{first}-{last}", format, headers, table)


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def plan_fact_out(
    clinic_ids: list[UUID] | None,
    first: str,
    last: str,
    specialization: str | None,
    rows: list[PlanFactMonth],
    format: str,
) -> s.PlanFactTable | Response:
    items = [
        present.as_answer(r, s.PlanFactOut, executed_share=_share(r.executed, r.expected))
        for r in rows
    ]
    if format == "json":
        return s.PlanFactTable(clinics=clinic_ids, specialization=specialization, items=items)
    headers = ["month", "expected", "executed", "verified", "unverified", "disputed", "paid"]
    headers.append("executed / expected, %")
    table: list[list[Cell]] = [
        [
            i.month,
            i.expected,
            i.executed,
            i.executed_split.verified,
            i.executed_split.unverified,
            i.executed_split.disputed,
            i.paid,
            i.executed_share,
        ]
        for i in items
    ]
    return table_response(f"plan-vs-fact-{first}-{last}", format, headers, table)


def specialization_out(r: SpecializationRow) -> s.SpecializationOut:
    estimate = average(r.estimate_money, r.referrals)
    plan = average(r.plan_money, r.accepted)
    # Like with like: the plans of the accepted referrals against their own estimates.
    accepted_estimate = average(r.accepted_estimate_money, r.accepted)
    return s.SpecializationOut(
        specialization=r.specialization,
        referrals=r.referrals,
        estimate_money=r.estimate_money,
        estimate_average=estimate,
        accepted=r.accepted,
        plan_money=r.plan_money,
        plan_average=plan,
        accepted_estimate_average=accepted_estimate,
        plan_vs_estimate=(
            round(100 * r.plan_money / r.accepted_estimate_money - 100, 1)
            if r.accepted and r.accepted_estimate_money
            else None
        ),
        treated=r.treated,
        executed_money=r.executed_money,
        executed_average=average(r.executed_money, r.treated),
        completed=r.completed,
        duration_days_average=round(r.duration_days / r.completed, 1) if r.completed else None,
        duration_planned_days_average=(
            round(r.duration_planned_days / r.completed, 1) if r.completed else None
        ),
    )


def specialization_table_out(
    clinic_ids: list[UUID] | None,
    first: str,
    last: str,
    rows: list[SpecializationRow],
    format: str,
) -> s.SpecializationTable | Response:
    items = [specialization_out(r) for r in rows]
    if format == "json":
        return s.SpecializationTable(clinics=clinic_ids, first=first, last=last, items=items)
    headers = list(s.SpecializationOut.__struct_fields__)
    table: list[list[Cell]] = [[getattr(i, h) for h in headers] for i in items]
    return table_response(f"specializations-{first}-{last}", format, headers, table)


def _respond(table: msgspec.Struct | Response) -> Response:
    return table if isinstance(table, Response) else Response(table)


# --- the routes, once for every audience ------------------------------------------------

COHORTS_TEXT = (
    "For each month referrals came in (from..to, YYYY-MM; the last 12 by default): their "
    "estimated money, and the money executed in that month, the next, … with the "
    "cumulative share. ?format=csv or xlsx downloads it."
)


@dataclass(frozen=True)
class Audience:
    """Who the funnel family is mounted for, and how it speaks to them."""

    name: Literal["clinic", "exchange"]
    allowed: frozenset[Role]  # the roles that may call the routes
    scope: Callable[..., Awaitable[Scope]]  # dependency: which clinics, in which time zone
    funnel_summary: str
    funnel_text: str
    reasons_summary: str
    reasons_answer: str
    conversion_summary: str
    conversion_by: str  # the rows when ?by is not given


def funnel_routes(audience: Audience) -> list[HTTPRouteHandler]:
    """The funnel family's six routes for one audience."""
    allowed, deps = audience.allowed, {"covered": Provide(audience.scope)}
    # The operation ids the document has always given these two (from the handlers' names).
    ids = {
        k: f"ApiV1{audience.name.title()}Funnel{k}{audience.name.title()}{k}"
        for k in ("Reasons", "Conversion")
    }

    @get(
        "/funnel",
        summary=audience.funnel_summary,
        description=audience.funnel_text,
        opt=roles(allowed),
        dependencies=deps,
        responses=responds(s.FunnelOut, ex.FUNNEL, "The funnel", errors=TABLE_ERRORS),
    )
    async def get_funnel(
        covered: NamedDependency[Scope],
        first: First = None,
        last: Last = None,
        specialization: SpecializationFilter = None,
        format: Format = "json",
    ) -> Response:
        view = await funnel_reports.funnel(
            covered, first, last, specialization, utcnow(), with_months=format == "json"
        )
        if format != "json":
            return funnel_download(view.figures, format)
        return Response(present.funnel(view.figures, covered.clinic_ids, view.months))

    @get(
        "/funnel/cohorts",
        summary="Cohorts: how the money of each month's referrals gets executed",
        description=COHORTS_TEXT,
        opt=roles(allowed),
        dependencies=deps,
        responses=responds(s.CohortTable, ex.COHORTS, "The cohort table", errors=TABLE_ERRORS),
    )
    async def get_cohorts(
        covered: NamedDependency[Scope],
        first: FromMonth = None,
        last: ToMonth = None,
        specialization: SpecializationFilter = None,
        format: Format = "json",
    ) -> Response:
        first, last, rows = await funnel_reports.cohorts(
            covered, first, last, specialization, utcnow()
        )
        return _respond(cohort_out(covered.clinic_ids, first, last, rows, format))

    @get(
        "/funnel/plan-vs-fact",
        summary="Plan vs fact: money expected by the plans' schedules against executed and paid",
        description=PLAN_FACT_TEXT,
        opt=roles(allowed),
        dependencies=deps,
        responses=responds(s.PlanFactTable, ex.PLAN_FACT, "Month by month", errors=TABLE_ERRORS),
    )
    async def get_plan_fact(
        covered: NamedDependency[Scope],
        first: FromMonth = None,
        last: ToMonth = None,
        specialization: SpecializationFilter = None,
        format: Format = "json",
    ) -> Response:
        first, last, rows = await funnel_reports.plan_vs_fact(
            covered, first, last, specialization, utcnow()
        )
        table = plan_fact_out(covered.clinic_ids, first, last, specialization, rows, format)
        return _respond(table)

    @get(
        "/funnel/specializations",
        summary="Average check and duration per specialization",
        description=SPECIALIZATIONS_TEXT,
        opt=roles(allowed),
        dependencies=deps,
        responses=responds(
            s.SpecializationTable, ex.SPECIALIZATIONS, "Per specialization", errors=TABLE_ERRORS
        ),
    )
    async def get_specializations(
        covered: NamedDependency[Scope],
        first: FromMonth = None,
        last: ToMonth = None,
        format: Format = "json",
    ) -> Response:
        first, last, rows = await funnel_reports.by_specialization(covered, first, last, utcnow())
        return _respond(specialization_table_out(covered.clinic_ids, first, last, rows, format))

    @get(
        "/funnel/reasons",
        summary=audience.reasons_summary,
        description=REASONS_TEXT,
        opt=roles(allowed),
        dependencies=deps,
        operation_id=ids["Reasons"],
        responses=responds(
            ReasonTable, REASONS_EXAMPLE, audience.reasons_answer, errors=TABLE_ERRORS
        ),
    )
    async def get_reasons(
        covered: NamedDependency[Scope],
        first: First = None,
        last: Last = None,
        specialization: SpecializationFilter = None,
        format: Format = "json",
    ) -> Response:
        first, last = funnel_reports.period(covered, first, last, utcnow())
        return _respond(await reason_table(covered.clinic_ids, first, last, specialization, format))

    @get(
        "/funnel/conversion",
        summary=audience.conversion_summary,
        description=CONVERSION_TEXT,
        opt=roles(allowed),
        dependencies=deps,
        operation_id=ids["Conversion"],
        responses=responds(
            ConversionTable, CONVERSION_EXAMPLE, "Step by step", errors=TABLE_ERRORS
        ),
    )
    async def get_conversion(
        covered: NamedDependency[Scope],
        first: First = None,
        last: Last = None,
        by: By = None,
        specialization: SpecializationFilter = None,
        format: Format = "json",
    ) -> Response:
        first, last = funnel_reports.period(covered, first, last, utcnow())
        by = by or audience.conversion_by
        table = await conversion_table(covered.clinic_ids, first, last, by, specialization, format)
        return _respond(table)

    return [
        get_funnel,
        get_cohorts,
        get_plan_fact,
        get_specializations,
        get_reasons,
        get_conversion,
    ]


async def own_clinic(staff: NamedDependency[StaffPrincipal]) -> Scope:
    """The clinic manager's own clinic, in its time zone."""
    assert staff.clinic_id is not None  # clinic roles always have one
    return await funnel_reports.own_clinic(staff.clinic_id)


async def picked_clinics(clinic_id: ClinicFilter = None, city: CityFilter = None) -> Scope:
    """The clinics the exchange names in the query, narrowed to a city; all by default."""
    return await funnel_reports.exchange_pick(clinic_id, city)


CLINIC_HANDLERS = funnel_routes(
    Audience(
        name="clinic",
        allowed=CLINIC_MANAGER,
        scope=own_clinic,
        reasons_summary="Lost money and plan revisions by reason",
        reasons_answer="By reason",
        conversion_summary="Conversion with forecast",
        conversion_by="coordinator",
        funnel_summary="The clinic's funnel in money",
        funnel_text="In, accepted, executed (this period's plans vs earlier), reserve by month "
        "of arrival, lost by reason, each split by verification; month by month inflow vs "
        "executed. Period in the clinic's time zone; this month by default. ?format=csv or "
        "xlsx downloads the table. Definitions: docs/metrics.md.",
    )
)
EXCHANGE_HANDLERS = funnel_routes(
    Audience(
        name="exchange",
        allowed=EXCHANGE_READERS,
        scope=picked_clinics,
        reasons_summary="Lost money and plan revisions by reason, per clinic",
        reasons_answer="By clinic and reason",
        conversion_summary="Conversion with forecast, per clinic, coordinator or specialization",
        conversion_by="clinic",
        funnel_summary="The funnel in money, any set of clinics",
        funnel_text="As the clinic's funnel, for all clinics or those named; each clinic's "
        "own days; this month in Moscow by default. ?format=csv or xlsx downloads the table. "
        "Definitions: docs/metrics.md.",
    )
)

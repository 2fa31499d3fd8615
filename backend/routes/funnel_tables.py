"""The funnel, cohort, plan-vs-fact and specialization tables as JSON or CSV/XLSX rows:
the parts the clinic's and the exchange's routes share."""

from datetime import datetime
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Response
from litestar.params import QueryParameter

from backend.domain.money_funnel import Funnel
from backend.domain.norms import Specialization
from backend.domain.plan_fact import SpecializationRow, average
from backend.routes import staff_schemas as s
from backend.routes.exports import Cell, table_response
from backend.services import plan_fact, reports
from backend.services.errors import Invalid

MONTH = r"^20\d{2}-(0[1-9]|1[0-2])$"  # plantrack has no data before 2000
FromMonth = Annotated[
    str | None, QueryParameter(name="from", pattern=MONTH, description="first cohort, YYYY-MM")
]
ToMonth = Annotated[
    str | None, QueryParameter(name="to", pattern=MONTH, description="last cohort, YYYY-MM")
]
SpecializationFilter = Annotated[
    Specialization | None,
    QueryParameter(name="specialization", description="only cases of this main specialization"),
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


async def cohort_table(
    clinic_ids: list[UUID] | None,
    first: str | None,
    last: str | None,
    format: str,
    tz: ZoneInfo,
    now: datetime,
    specialization: str | None = None,
) -> s.CohortTable | Response:
    current = now.astimezone(tz).strftime("%Y-%m")
    last = last or current
    first = first or reports.add_months(last, -11)
    if first > last:
        raise Invalid("from: the first cohort comes after the last")
    if reports.add_months(first, 36) <= last:
        raise Invalid("at most 36 cohorts at once")
    rows = await reports.cohorts(
        clinic_ids, first=first, last=last, now=now, tz=tz, specialization=specialization
    )
    if format == "json":
        return s.CohortTable(
            clinics=clinic_ids,
            items=[
                s.CohortOut(
                    cohort=r.cohort,
                    referrals=r.referrals,
                    in_money=r.in_money,
                    executed=r.executed,
                    share=r.share,
                )
                for r in rows
            ],
        )
    width = max((len(r.executed) for r in rows), default=0)
    headers = COHORT_HEADERS + [f"executed M+{k}" for k in range(width)]
    headers += [f"share M+{k}, %" for k in range(width)]
    table: list[list[Cell]] = []
    for r in rows:
        pad = [None] * (width - len(r.executed))
        table.append([r.cohort, r.referrals, r.in_money, *r.executed, *pad, *r.share, *pad])
    return table_response(f"cohorts-{first}-{last}", format, headers, table)


def _months(
    first: str | None, last: str | None, tz: ZoneInfo, now: datetime, *, back: int, ahead: int
) -> tuple[str, str]:
    current = now.astimezone(tz).strftime("%Y-%m")
    last = last or reports.add_months(current, ahead)
    return first or reports.add_months(min(last, current), -back), last


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


async def plan_fact_table(
    clinic_ids: list[UUID] | None,
    first: str | None,
    last: str | None,
    specialization: str | None,
    format: str,
    tz: ZoneInfo,
    now: datetime,
) -> s.PlanFactTable | Response:
    first, last = _months(first, last, tz, now, back=5, ahead=6)
    rows = await plan_fact.plan_vs_fact(
        clinic_ids, first=first, last=last, specialization=specialization
    )
    items = [
        s.PlanFactOut(
            month=r.month,
            expected=r.expected,
            executed=r.executed,
            executed_split=s.SplitOut(
                verified=r.executed_split.verified,
                unverified=r.executed_split.unverified,
                disputed=r.executed_split.disputed,
            ),
            paid=r.paid,
            executed_share=_share(r.executed, r.expected),
        )
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


async def specialization_table(
    clinic_ids: list[UUID] | None,
    first: str | None,
    last: str | None,
    format: str,
    tz: ZoneInfo,
    now: datetime,
) -> s.SpecializationTable | Response:
    first, last = _months(first, last, tz, now, back=11, ahead=0)
    rows = await plan_fact.by_specialization(clinic_ids, first=first, last=last)
    items = [specialization_out(r) for r in rows]
    if format == "json":
        return s.SpecializationTable(clinics=clinic_ids, first=first, last=last, items=items)
    headers = list(s.SpecializationOut.__struct_fields__)
    table: list[list[Cell]] = [[getattr(i, h) for h in headers] for i in items]
    return table_response(f"specializations-{first}-{last}", format, headers, table)

"""The funnel and the cohort table as CSV/XLSX rows, and the cohort table's routes'
shared parts (clinic and exchange)."""

from datetime import datetime
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Response
from litestar.params import QueryParameter

from backend.domain.money_funnel import Funnel
from backend.routes import staff_schemas as s
from backend.routes.exports import Cell, table_response
from backend.services import reports
from backend.services.errors import Invalid

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
FromMonth = Annotated[
    str | None, QueryParameter(name="from", pattern=MONTH, description="first cohort, YYYY-MM")
]
ToMonth = Annotated[
    str | None, QueryParameter(name="to", pattern=MONTH, description="last cohort, YYYY-MM")
]
COHORT_HEADERS = ["cohort", "referrals", "in_money"]


def funnel_rows(f: Funnel) -> list[list[Cell]]:
    def split(x) -> list[Cell]:
        return [x.verified, x.unverified, x.disputed]

    rows: list[list[Cell]] = [
        ["in", f.in_count, f.in_money, None, None, None],
        ["accepted", f.accepted_count, f.accepted_money, *split(f.accepted_split)],
        ["executed", None, f.executed_money, *split(f.executed_split)],
        ["executed: this period's plans", None, f.executed_this_period, None, None, None],
        ["executed: earlier plans", None, f.executed_earlier, None, None, None],
        ["paid", None, f.paid_money, None, None, None],
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
) -> s.CohortTable | Response:
    current = now.astimezone(tz).strftime("%Y-%m")
    last = last or current
    first = first or reports.add_months(last, -11)
    if first > last:
        raise Invalid("from: the first cohort comes after the last")
    if reports.add_months(first, 36) <= last:
        raise Invalid("at most 36 cohorts at once")
    rows = await reports.cohorts(clinic_ids, first=first, last=last, now=now, tz=tz)
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

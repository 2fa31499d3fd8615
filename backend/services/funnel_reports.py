"""The funnel family of reports (funnel, cohorts, plan vs fact, per specialization) for one
scope: a clinic's own, or the clinics the exchange picked. Routes and pages of every
audience call these, so periods, defaults and limits are decided once."""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.domain.money_funnel import Funnel
from backend.domain.plan_fact import PlanFactMonth, SpecializationRow
from backend.services import exchange_admin, plan_fact, reports
from backend.services.errors import Invalid
from backend.services.reports import CohortRow, MonthFlow, add_months

MAX_COHORTS = 36


@dataclass(frozen=True)
class Scope:
    """The clinics a report covers (None: all) and the time zone its days are in."""

    clinic_ids: list[UUID] | None
    tz: ZoneInfo


async def own_clinic(clinic_id: UUID) -> Scope:
    """A clinic's own reports, in its own days."""
    return Scope([clinic_id], await exchange_admin.clinic_zone(clinic_id))


async def exchange_pick(clinic_ids: list[UUID] | None, city: str | None = None) -> Scope:
    """The exchange's reports: the clinics named (all when none), narrowed to a city; each
    clinic's own days, and the months of Moscow."""
    return Scope(await reports.scope(clinic_ids, city), reports.EXCHANGE_TZ)


def period(scope: Scope, first: date | None, last: date | None, now: datetime) -> tuple[date, date]:
    """The scope's local days first..last; this month by default."""
    return reports.period_days(first, last, scope.tz, now)


@dataclass(frozen=True)
class FunnelView:
    first: date
    last: date
    figures: Funnel
    months: list[MonthFlow]


async def funnel(
    scope: Scope,
    first: date | None,
    last: date | None,
    specialization: str | None,
    now: datetime,
    *,
    with_months: bool = True,
) -> FunnelView:
    """The funnel in money for the local days first..last (this month by default), and the
    last six months' inflow against executed."""
    first, last = period(scope, first, last, now)
    figures = await reports.funnel(
        scope.clinic_ids, first=first, last=last, specialization=specialization
    )
    months = (
        await reports.monthly_flow(
            scope.clinic_ids, months=6, tz=scope.tz, now=now, specialization=specialization
        )
        if with_months
        else []
    )
    return FunnelView(first=first, last=last, figures=figures, months=months)


def _current(scope: Scope, now: datetime) -> str:
    return now.astimezone(scope.tz).strftime("%Y-%m")


def _months(
    scope: Scope, first: str | None, last: str | None, now: datetime, *, back: int, ahead: int
) -> tuple[str, str]:
    current = _current(scope, now)
    last = last or add_months(current, ahead)
    return first or add_months(min(last, current), -back), last


async def cohorts(
    scope: Scope,
    first: str | None,
    last: str | None,
    specialization: str | None,
    now: datetime,
) -> tuple[str, str, list[CohortRow]]:
    """The cohorts first..last (YYYY-MM; the last twelve by default), at most 36."""
    last = last or _current(scope, now)
    first = first or add_months(last, -11)
    if first > last:
        raise Invalid("from: the first cohort comes after the last")
    if add_months(first, MAX_COHORTS) <= last:
        raise Invalid(f"at most {MAX_COHORTS} cohorts at once")
    rows = await reports.cohorts(
        scope.clinic_ids,
        first=first,
        last=last,
        now=now,
        tz=scope.tz,
        specialization=specialization,
    )
    return first, last, rows


async def plan_vs_fact(
    scope: Scope,
    first: str | None,
    last: str | None,
    specialization: str | None,
    now: datetime,
    *,
    back: int = 5,
    ahead: int = 6,
) -> tuple[str, str, list[PlanFactMonth]]:
    """Expected, executed and paid month by month (by default `back` months before this one
    to `ahead` after it)."""
    first, last = _months(scope, first, last, now, back=back, ahead=ahead)
    rows = await plan_fact.plan_vs_fact(
        scope.clinic_ids, first=first, last=last, specialization=specialization
    )
    return first, last, rows


async def by_specialization(
    scope: Scope, first: str | None, last: str | None, now: datetime
) -> tuple[str, str, list[SpecializationRow]]:
    """Average check and duration per specialization (the last twelve months by default)."""
    first, last = _months(scope, first, last, now, back=11, ahead=0)
    return first, last, await plan_fact.by_specialization(scope.clinic_ids, first=first, last=last)

"""The funnel in money and the scorecards, for one clinic, several, or all.

The funnel sums the referrals' funnel facts (backend.domain.funnel_facts, kept with the
other derived rows), so a month's report costs a few indexed aggregates however long
the ledger; docs/metrics.md defines every figure. Scorecards still fold each ledger
(backend.domain.scorecard).
"""

from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.money_funnel import Funnel, Lost
from backend.domain.scorecard import Scorecard, scorecard
from backend.services.errors import Invalid
from backend.store import desk, funnel_facts, ledger

EXCHANGE_TZ = ZoneInfo("Europe/Moscow")
MAX_PERIOD_DAYS = 1100  # three years: longer periods are cohort tables, not one funnel


def month_end(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1) - timedelta(days=1)


def period_days(
    first: date | None, last: date | None, tz: ZoneInfo, now: datetime
) -> tuple[date, date]:
    """The local days [first, last]; this month by default, up to today if only `from`."""
    today = now.astimezone(tz).date()
    if first is None and last is None:
        return today.replace(day=1), month_end(today)
    first = first or today.replace(day=1)
    last = last or max(today, first)
    if last < first:
        raise Invalid("to: the period ends before it starts")
    if (last - first).days > MAX_PERIOD_DAYS:
        raise Invalid(f"the period is longer than {MAX_PERIOD_DAYS} days")
    return first, last


async def scope(clinic_ids: list[UUID] | None, city: str | None) -> list[UUID] | None:
    """The clinics a report covers: those named, narrowed to a city (archived ones too:
    their history still counts); None for all."""
    if city is None:
        return clinic_ids
    in_city = [
        c.id
        for c in await desk.clinics(include_archived=True)
        if c.city.casefold() == city.strip().casefold()
    ]
    return [c for c in in_city if clinic_ids is None or c in clinic_ids]


def whole_months(first: date, last: date) -> tuple[list[str], list[tuple[date, date]]]:
    """The calendar months lying wholly in [first, last], and the day ranges left over."""
    months: list[str] = []
    edges: list[tuple[date, date]] = []
    day = first
    while day <= last:
        end = month_end(day)
        if day.day == 1 and end <= last:
            months.append(day.strftime("%Y-%m"))
        else:
            edges.append((day, min(end, last)))
        day = end + timedelta(days=1)
    return months, edges


async def funnel(
    clinic_ids: list[UUID] | None,
    *,
    first: date,
    last: date,
    specialization: str | None = None,
) -> Funnel:
    """The period's funnel (definition: domain.money_funnel). Whole months and the
    reserve up to the last whole month come from the monthly sums in one statement, the
    days around them from the facts: a month's report reads a few hundred rows, however
    long the ledger."""
    spec = {"specialization": specialization}
    months, edges = whole_months(first, last)
    first_month = first.strftime("%Y-%m")
    through = last if last == month_end(last) else last.replace(day=1) - timedelta(days=1)
    sums = await funnel_facts.month_sums(
        clinic_ids, months, reserve_through=through.strftime("%Y-%m"), **spec
    )
    flows = [r for r in sums if r.kind != "reserve"]
    cohorts = [r for r in sums if r.kind == "reserve"]
    for edge_first, edge_last in edges:
        flows += await funnel_facts.flows(clinic_ids, edge_first, edge_last, **spec)

    f = Funnel(first=first, last=last)
    lost: dict[str, Lost] = {}
    for row in flows:
        kind, split = row.kind, row.split
        amount, count = row.amount, row.count
        if amount == 0 and count == 0:
            continue  # a monthly sum that changes took back to nothing
        if kind == "in":
            f.in_count += count
            f.in_money += amount
        elif kind == "transferred_in":
            f.transferred_in_count += count
            f.transferred_in_money += amount
        elif kind == "transferred_out":
            f.transferred_out_count += count
            f.transferred_out_money += amount
        elif kind == "accepted":
            f.accepted_count += count
            f.accepted_money += amount
            f.accepted_split.add(split, amount)
        elif kind == "executed":
            f.executed_money += amount
            f.executed_split.add(split, amount)
        elif kind == "paid":
            f.paid_money += amount
            f.paid_split.add(split or "unverified", amount)
        elif kind == "lost":
            entry = lost.setdefault(row.reason, Lost())
            entry.count += count
            entry.money += amount
            f.lost_count += count
            f.lost_money += amount
    f.lost_by_reason = dict(sorted(lost.items(), key=lambda kv: (-kv[1].money, kv[0])))

    # Executed from plans sent in the period: by cohort when the period starts a month.
    if first.day == 1:
        new = [r for r in sums if r.kind != "reserve" and r.cohort >= first_month]
        for edge_first, edge_last in edges:
            new += await funnel_facts.flows(
                clinic_ids, edge_first, edge_last, sent_from=first, **spec
            )
    else:
        new = await funnel_facts.flows(clinic_ids, first, last, sent_from=first, **spec)
    f.executed_this_period = sum(r.amount for r in new if r.kind == "executed")
    f.executed_earlier = f.executed_money - f.executed_this_period

    # The reserve at the end: whole months' movements, then the last month's days.
    if last != month_end(last):
        cohorts += await funnel_facts.reserve(clinic_ids, last, first=last.replace(day=1), **spec)
    by_cohort: dict[str, int] = {}
    for r in cohorts:
        by_cohort[r.cohort] = by_cohort.get(r.cohort, 0) + r.amount
        f.reserve_count += r.count
    # A negative sum would be a bug: shown, not hidden.
    f.reserve_by_cohort = {k: v for k, v in sorted(by_cohort.items()) if v != 0}
    f.reserve_money = sum(f.reserve_by_cohort.values())
    return f


class CohortRow(msgspec.Struct, frozen=True, kw_only=True):
    cohort: str  # YYYY-MM the referrals were sent in
    referrals: int
    in_money: int  # the estimates as sent
    executed: list[int]  # money executed in the cohort month (0), the next (1), …
    share: list[float]  # cumulative executed / in_money, per cent, one decimal


def add_months(month: str, k: int) -> str:
    year, mon = int(month[:4]), int(month[5:]) + k
    year, mon = year + (mon - 1) // 12, (mon - 1) % 12 + 1
    return f"{year:04d}-{mon:02d}"


async def cohorts(
    clinic_ids: list[UUID] | None,
    *,
    first: str,
    last: str,
    now: datetime,
    tz: ZoneInfo,
    specialization: str | None = None,
) -> list[CohortRow]:
    """The retention triangle: of the money that came in in month M, how much was
    executed by M, M+1, M+2, … up to the current month (docs/metrics.md)."""
    current = now.astimezone(tz).strftime("%Y-%m")
    money_in: dict[str, tuple[int, int]] = {}
    executed: dict[tuple[str, str], int] = {}
    sums = await funnel_facts.cohort_sums(clinic_ids, first, last, specialization=specialization)
    for r in sums:
        if r.kind == "in":
            amount, count = money_in.get(r.cohort, (0, 0))
            money_in[r.cohort] = (amount + r.amount, count + r.count)
        else:
            key = (r.cohort, r.month)
            executed[key] = executed.get(key, 0) + r.amount
    rows, cohort = [], first
    while cohort <= last and cohort <= current:
        amount, count = money_in.get(cohort, (0, 0))
        months, k = [], 0
        while add_months(cohort, k) <= current:
            months.append(executed.get((cohort, add_months(cohort, k)), 0))
            k += 1
        running, share = 0, []
        for value in months:
            running += value
            share.append(round(100 * running / amount, 1) if amount else 0.0)
        rows.append(
            CohortRow(cohort=cohort, referrals=count, in_money=amount, executed=months, share=share)
        )
        cohort = add_months(cohort, 1)
    return rows


class MonthFlow(msgspec.Struct, frozen=True, kw_only=True):
    month: str  # YYYY-MM
    inflow: int  # money of referrals sent that month (estimate)
    executed: int  # money of items done that month
    lost: int


async def monthly_flow(
    clinic_ids: list[UUID] | None,
    *,
    months: int,
    tz: ZoneInfo,
    now: datetime,
    specialization: str | None = None,
) -> list[MonthFlow]:
    """Inflow against throughput, month by month, the last `months` months (the current
    one so far), from the monthly sums."""
    current = now.astimezone(tz).strftime("%Y-%m")
    keys = [add_months(current, -k) for k in reversed(range(months))]
    sums = {
        (r.month, r.kind): r.amount
        for r in await funnel_facts.month_totals(clinic_ids, keys, specialization=specialization)
    }
    return [
        MonthFlow(
            month=key,
            inflow=sums.get((key, "in"), 0),
            executed=sums.get((key, "executed"), 0),
            lost=sums.get((key, "lost"), 0),
        )
        for key in keys
    ]


class ClinicScore(msgspec.Struct, frozen=True, kw_only=True):
    clinic_id: UUID
    clinic_name: str
    card: Scorecard


async def scorecards(clinic_ids: list[UUID] | None, *, now: datetime) -> list[ClinicScore]:
    clinics = [c for c in await desk.clinics() if clinic_ids is None or c.id in clinic_ids]
    histories = await ledger.histories([c.id for c in clinics])
    by_clinic: dict[UUID, list] = {c.id: [] for c in clinics}
    for referral_id, events in histories.items():
        sent = next((e for e in events if e.kind == "sent"), None)
        if sent is not None:
            by_clinic.setdefault(sent.body.clinic_id, []).append((referral_id, events))
    return [
        ClinicScore(
            clinic_id=c.id,
            clinic_name=c.name,
            card=scorecard(by_clinic.get(c.id, []), now=now),
        )
        for c in clinics
    ]

"""Plan vs fact and the specializations table, from the funnel facts' monthly sums (the
definitions, checked against these: backend.domain.plan_fact)."""

from uuid import UUID

from backend.domain.funnel_facts import TRANSFER
from backend.domain.plan_fact import PlanFactMonth, SpecializationRow
from backend.services.errors import Invalid
from backend.services.reports import add_months
from backend.store import funnel_facts

MAX_MONTHS = 36


def month_range(first: str, last: str) -> list[str]:
    if first > last:
        raise Invalid("from: the first month comes after the last")
    months = [first]
    while months[-1] < last:
        months.append(add_months(months[-1], 1))
        if len(months) > MAX_MONTHS:
            raise Invalid(f"at most {MAX_MONTHS} months at once")
    return months


async def plan_vs_fact(
    clinic_ids: list[UUID] | None,
    *,
    first: str,
    last: str,
    specialization: str | None = None,
) -> list[PlanFactMonth]:
    """Month by month: money the plans' schedules expected, executed (by verification),
    paid. Months ahead show what is expected still."""
    months = month_range(first, last)
    rows = {m: PlanFactMonth(month=m) for m in months}
    for r in await funnel_facts.month_totals(
        clinic_ids,
        months,
        kinds=("expected", "executed", "paid"),
        specialization=specialization,
        by=("split",),
    ):
        row, amount = rows[r.month], r.amount
        if r.kind == "expected":
            row.expected += amount
        elif r.kind == "executed":
            row.executed += amount
            row.executed_split.add(r.split, amount)
        else:
            row.paid += amount
    return list(rows.values())


async def by_specialization(
    clinic_ids: list[UUID] | None, *, first: str, last: str
) -> list[SpecializationRow]:
    """Per main specialization: the average check of referrals sent in [first, last]
    (estimate, plan, executed to date) and the durations of plans completed in it."""
    months = month_range(first, last)
    rows: dict[str, SpecializationRow] = {}

    def row(spec: str) -> SpecializationRow:
        return rows.setdefault(spec, SpecializationRow(specialization=spec))

    sums = await funnel_facts.cohort_sums(
        clinic_ids,
        first,
        last,
        kinds=("in", "accepted", "accepted_estimate", "treated", "executed"),
        by=("specialization", "reason"),
    )
    for r in sums:
        if r.reason == TRANSFER:
            continue  # a transfer continues a case counted where it was first sent
        amount, count, x = r.amount, r.count, row(r.specialization)
        if r.kind == "in":
            x.referrals += count
            x.estimate_money += amount
        elif r.kind == "accepted":
            x.accepted += count
            x.plan_money += amount
        elif r.kind == "accepted_estimate":
            x.accepted_estimate_money += amount
        elif r.kind == "treated":
            x.treated += count
        else:
            x.executed_money += amount
    for r in await funnel_facts.month_totals(
        clinic_ids, months, kinds=("duration", "duration_planned"), by=("specialization",)
    ):
        amount, count, x = r.amount, r.count, row(r.specialization)
        if r.kind == "duration":
            x.completed += count
            x.duration_days += amount
        else:
            x.duration_planned_days += amount
    return [r for _, r in sorted(rows.items()) if r.referrals or r.completed]

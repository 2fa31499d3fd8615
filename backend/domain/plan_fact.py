"""Plan vs fact (docs/metrics.md): what the plans' schedules expected against what was done and
paid, month by month; and per main specialization, the average check (the exchange's
estimate, the clinic's plan, what was executed) and expected vs actual duration.

Like money_funnel, this is the definition in plain Python, read off one fold of each
referral's ledger; reports compute the same from the funnel facts' monthly sums and a
differential test holds them together. docs/metrics.md says it in words.
"""

from collections.abc import Iterable
from datetime import datetime, tzinfo
from uuid import UUID

import msgspec

from backend.domain.events import Event
from backend.domain.funnel import fold_referral, item_milestone
from backend.domain.money_funnel import (
    Split,
    duration_days,
    estimate_as_sent,
    expected_dues,
    is_transfer,
    main_specialization,
    split_of,
)
from backend.domain.norms import Norms, effective_norms
from backend.domain.verification import VerificationPolicy, verify


class PlanFactMonth(msgspec.Struct, kw_only=True):
    month: str  # YYYY-MM, local to each referral's clinic
    expected: int = 0  # money of plan lines whose schedule falls due this month
    executed: int = 0  # money of items done this month
    executed_split: Split = msgspec.field(default_factory=Split)
    paid: int = 0


class SpecializationRow(msgspec.Struct, kw_only=True):
    """Sums and counts; averages are sums over counts (`average`)."""

    specialization: str
    referrals: int = 0  # sent in the period
    estimate_money: int = 0  # their estimates as sent
    accepted: int = 0  # of them, booked or visited (to date)
    plan_money: int = 0  # the accepted ones' current plans
    accepted_estimate_money: int = 0  # the accepted ones' estimates as sent (like with like)
    treated: int = 0  # of them, with an item done (to date)
    executed_money: int = 0  # their items done (to date)
    completed: int = 0  # plans completed in the period (any time sent)
    duration_days: int = 0  # their actual lengths, summed
    duration_planned_days: int = 0  # their lengths as scheduled, summed


def average(total: int, count: int) -> int | None:
    """Rounded half up to a whole unit; None when there is nothing to average."""
    return (2 * total + count) // (2 * count) if count else None


def _month(at: datetime, sent_at: datetime, tz: tzinfo) -> str:
    # Anything dated before the referral was sent counts as when it was sent.
    return max(at, sent_at).astimezone(tz).strftime("%Y-%m")


def plan_vs_fact(
    histories: Iterable[tuple[UUID, list[Event], tzinfo]],
    months: list[str],
    *,
    now: datetime,
    norms: Norms | None = None,
    policy: VerificationPolicy | None = None,
) -> list[PlanFactMonth]:
    norms = norms or effective_norms()
    rows = {m: PlanFactMonth(month=m) for m in months}
    for _, events, tz in histories:
        fold = fold_referral(events)
        if fold.sent_at is None:
            continue
        sent = fold.sent_at
        verdicts = verify(fold, now, policy or VerificationPolicy())
        for price, due in expected_dues(fold, norms):
            if row := rows.get(_month(due, sent, tz)):
                row.expected += price
        for item_id, done_at in fold.done_items.items():
            if row := rows.get(_month(done_at, sent, tz)):
                price = fold.item_prices.get(item_id, 0)
                verdict = verdicts.get(item_milestone(item_id))
                row.executed += price
                row.executed_split.add(split_of(verdict.state if verdict else None), price)
        for payment in fold.payments:
            if row := rows.get(_month(payment.occurred_at, sent, tz)):
                row.paid += payment.amount
    return list(rows.values())


def by_specialization(
    histories: Iterable[tuple[UUID, list[Event], tzinfo]],
    first: str,
    last: str,
    *,
    norms: Norms | None = None,
) -> list[SpecializationRow]:
    """Per main specialization, for the months [first, last] (YYYY-MM): the average
    check of the referrals sent in them, and the durations of the plans completed in
    them. Rows in the order of the specializations' names."""
    norms = norms or effective_norms()
    rows: dict[str, SpecializationRow] = {}
    for _, events, tz in histories:
        fold = fold_referral(events)
        if fold.sent_at is None:
            continue
        spec = main_specialization(fold)
        row = rows.setdefault(spec, SpecializationRow(specialization=spec))
        # A case is counted where it was first sent: a transfer continues a case (its
        # estimate is what was left of it), so it is not a case of its own here.
        if first <= _month(fold.sent_at, fold.sent_at, tz) <= last and not is_transfer(fold):
            row.referrals += 1
            row.estimate_money += estimate_as_sent(fold)
            if fold.accepted_at is not None:
                row.accepted += 1
                row.plan_money += fold.money.planned
                row.accepted_estimate_money += estimate_as_sent(fold)
            if fold.done_items:
                row.treated += 1
                row.executed_money += sum(fold.item_prices.get(i, 0) for i in fold.done_items)
        durations = duration_days(fold, norms)
        if durations and first <= _month(fold.step_at["completed"], fold.sent_at, tz) <= last:
            row.completed += 1
            row.duration_days += durations[0]
            row.duration_planned_days += durations[1]
    return [r for _, r in sorted(rows.items()) if r.referrals or r.completed]

"""The funnel in money for a period (DESIGN §4), folded from referrals' ledgers.

This is the definition in plain Python: each figure is read off folds of each
referral's events, at the period's end and at its start. Reports at scale compute the
same figures from roll-ups; this module is what they are checked against.

For a period [start, end):
- in: referrals sent in the period — count, estimated money (the estimate as sent);
- accepted: referrals first booked or visited in the period — count, planned money;
- executed: money of plan items done in the period, split by cohort (referral sent in
  this period or earlier) and by the item's verification; paid: payments in the period;
- reserve: open referrals' remaining money at the end, by the month they came in;
- lost: referrals declined or closed in the period and still so at the end — count,
  money not done, by reason.
A correction recorded later restates the period (the fold applies it to the past).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, tzinfo
from uuid import UUID

import msgspec

from backend.domain.events import Event, PlanSet
from backend.domain.funnel import Step, fold_referral, item_milestone
from backend.domain.verification import VerificationPolicy, VerificationState, verify

# How a verification state counts in money figures.
SPLIT = {
    VerificationState.verified: "verified",
    VerificationState.disputed: "disputed",
    VerificationState.clinic_silent: "disputed",
    VerificationState.rejected: "disputed",
}


def split_of(state: VerificationState | None) -> str:
    return SPLIT.get(state, "unverified") if state is not None else "unverified"


class Split(msgspec.Struct, kw_only=True):
    verified: int = 0
    unverified: int = 0
    disputed: int = 0

    def add(self, kind: str, amount: int) -> None:
        setattr(self, kind, getattr(self, kind) + amount)

    @property
    def total(self) -> int:
        return self.verified + self.unverified + self.disputed


class Lost(msgspec.Struct, kw_only=True):
    count: int = 0
    money: int = 0


class Funnel(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime
    currency: str = "RUB"
    in_count: int = 0
    in_money: int = 0
    accepted_count: int = 0
    accepted_money: int = 0
    accepted_split: Split = msgspec.field(default_factory=Split)
    executed_money: int = 0
    executed_this_period: int = 0  # from referrals sent in the period
    executed_earlier: int = 0  # from referrals sent before it
    executed_split: Split = msgspec.field(default_factory=Split)
    paid_money: int = 0
    reserve_money: int = 0
    reserve_count: int = 0
    reserve_by_cohort: dict[str, int] = msgspec.field(default_factory=dict)
    lost_count: int = 0
    lost_money: int = 0
    lost_by_reason: dict[str, Lost] = msgspec.field(default_factory=dict)


def month_key(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


def _estimate_as_sent(events: list[Event]) -> int:
    """The first estimated plan's total: what the exchange sent, before any revision."""
    versions = sorted(
        (e.body for e in events if isinstance(e.body, PlanSet) and e.body.origin == "estimated"),
        key=lambda b: b.version,
    )
    if not versions:
        return 0
    first = versions[0]
    offered = sorted({line.variant for line in first.lines if line.variant})
    variant = first.chosen_variant or (offered[0] if offered else None)
    return sum(line.price for line in first.lines if line.variant in (None, variant))


def period_funnel(
    histories: Iterable[tuple[UUID, list[Event]]],
    *,
    start: datetime,
    end: datetime,
    tz: tzinfo,
    now: datetime,
    policy: VerificationPolicy | None = None,
) -> Funnel:
    funnel = Funnel(start=start, end=end)
    policy = policy or VerificationPolicy()
    lost: dict[str, Lost] = defaultdict(Lost)
    cohorts: Counter[str] = Counter()
    for _, events in histories:
        at_end = fold_referral(events, as_of=end)
        if at_end.sent_at is None or at_end.sent_at >= end:
            continue
        funnel.currency = at_end.money.currency
        verdicts = verify(fold_referral(events), now, policy)
        new = at_end.sent_at >= start

        if new:
            funnel.in_count += 1
            funnel.in_money += _estimate_as_sent(events)

        if at_end.accepted_at is not None and start <= at_end.accepted_at < end:
            funnel.accepted_count += 1
            funnel.accepted_money += at_end.money.planned
            milestone = "booked" if "booked" in at_end.step_at else "visited"
            funnel.accepted_split.add(
                split_of(verdicts[milestone].state if milestone in verdicts else None),
                at_end.money.planned,
            )

        for item_id, done_at in at_end.done_items.items():
            if done_at < start:
                continue
            price = at_end.item_prices.get(item_id, 0)
            funnel.executed_money += price
            if new:
                funnel.executed_this_period += price
            else:
                funnel.executed_earlier += price
            verdict = verdicts.get(item_milestone(item_id))
            funnel.executed_split.add(split_of(verdict.state if verdict else None), price)

        funnel.paid_money += sum(p.amount for p in at_end.payments if start <= p.occurred_at < end)

        if at_end.is_open and at_end.money.remaining > 0:
            funnel.reserve_count += 1
            funnel.reserve_money += at_end.money.remaining
            cohorts[month_key(at_end.sent_at, tz)] += at_end.money.remaining

        if at_end.step in (Step.declined, Step.closed):
            closed_at = at_end.step_at.get(at_end.step)
            if closed_at is not None and start <= closed_at < end:
                reason = at_end.closed_reason or at_end.step.value
                lost[reason].count += 1
                lost[reason].money += at_end.money.lost
                funnel.lost_count += 1
                funnel.lost_money += at_end.money.lost

    funnel.reserve_by_cohort = dict(sorted(cohorts.items()))
    funnel.lost_by_reason = dict(sorted(lost.items(), key=lambda kv: -kv[1].money))
    return funnel

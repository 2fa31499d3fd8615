"""The funnel in money for a period (docs/metrics.md), folded from referrals' ledgers.

This is the definition in plain Python (docs/metrics.md says it in words): each figure
is read off one fold of each referral's whole ledger — everything known now, every
correction applied — by when things happened. Reports compute the same figures by
summing movements (backend.domain.funnel_facts) in the database; this module is what
they are checked against.

For a period of local days [first, last] in each referral's clinic's time zone, i.e.
[first 00:00, last+1 00:00):
- in: referrals sent in the period — count, estimated money (the estimate as sent) —
  except transfers: a referral the exchange moved from another clinic brings no new
  money, so it counts as *transferred in* (and the one it came from as *transferred
  out* when it moved), and the money is in exchange-wide "in" once;
- accepted: referrals first booked or visited in the period — count, planned money
  (the plan as it stands now);
- executed: money of plan items done in the period, split by cohort (referral sent in
  this period or earlier) and by the item's verification; paid: payments in the period,
  split by the receipts that back or contradict them (payment_splits);
- reserve: referrals sent before the end and not ended by then (declined, closed,
  transferred or completed, as they stand now), with the current plan's items not done
  by the end — count and money, by the month they came in;
- lost: referrals that stand declined or closed and got there in the period — count,
  money not done, by reason.
A correction recorded later restates the period (the fold applies it to the past).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from functools import partial
from uuid import UUID

import msgspec

from backend.domain.events import Event, PlanLine
from backend.domain.funnel import (
    CLOSURES,
    ReferralFold,
    Step,
    VariantChoice,
    fold_referral,
    item_milestone,
    receipt_milestone,
    treatment_start,
)
from backend.domain.norms import Norms, Specialization
from backend.domain.progress import item_due_dates, planned_schedule
from backend.domain.verification import (
    Verification,
    VerificationPolicy,
    VerificationState,
    verify,
)

# How a verification state counts in money figures.
SPLIT = {
    VerificationState.verified: "verified",
    VerificationState.disputed: "disputed",
    VerificationState.clinic_silent: "disputed",
    VerificationState.rejected: "disputed",
}


def split_of(state: VerificationState | None) -> str:
    return SPLIT.get(state, "unverified") if state is not None else "unverified"


def payment_splits(fold: ReferralFold, verdicts: dict[str, Verification]) -> dict[int, str]:
    """How each reported payment counts, by the receipt paired with it: verified when a
    receipt of the same amount backs it (or the exchange ruled so), disputed when the
    receipt says another amount (or the exchange ruled against it); unverified without a
    receipt. Keyed by the payment's ledger event."""
    splits: dict[int, str] = {}
    for receipt_id, match in fold.receipt_matches.items():
        if match.payment_event_id is not None:
            verdict = verdicts.get(receipt_milestone(receipt_id))
            splits[match.payment_event_id] = split_of(verdict.state if verdict else None)
    return splits


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
    first: date
    last: date
    currency: str = "RUB"
    in_count: int = 0
    in_money: int = 0
    transferred_in_count: int = 0  # referrals moved here from another clinic
    transferred_in_money: int = 0  # the money they brought (their estimate as sent)
    transferred_out_count: int = 0  # referrals moved from here to another clinic
    transferred_out_money: int = 0  # the money they took (their items not done)
    accepted_count: int = 0
    accepted_money: int = 0
    accepted_split: Split = msgspec.field(default_factory=Split)
    executed_money: int = 0
    executed_this_period: int = 0  # from referrals sent in the period
    executed_earlier: int = 0  # from referrals sent before it
    executed_split: Split = msgspec.field(default_factory=Split)
    paid_money: int = 0
    paid_split: Split = msgspec.field(default_factory=Split)
    reserve_money: int = 0
    reserve_count: int = 0
    reserve_by_cohort: dict[str, int] = msgspec.field(default_factory=dict)
    lost_count: int = 0
    lost_money: int = 0
    lost_by_reason: dict[str, Lost] = msgspec.field(default_factory=dict)


def month_key(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


def local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def estimate_lines_as_sent(
    fold: ReferralFold, choice: VariantChoice | None = None
) -> tuple[PlanLine, ...]:
    """The first estimated plan's counted lines: what the exchange sent, before any
    revision (`fold.sent_estimate`); of its variants the one chosen since (`choice`, when
    the estimate offers it), else the one it named, else the first."""
    first = fold.sent_estimate
    if first is None:
        return ()
    offered = sorted({line.variant for line in first.lines if line.variant})
    if choice is not None and choice.variant in offered:
        variant: str | None = choice.variant
    elif first.chosen_variant in offered:
        variant = first.chosen_variant
    else:
        variant = offered[0] if offered else None
    return tuple(line for line in first.lines if line.variant in (None, variant))


def estimate_as_sent(fold: ReferralFold) -> int:
    """The estimate as sent, of the variant the patient chose since (when offered)."""
    return sum(line.price for line in estimate_lines_as_sent(fold, fold.variant_choice))


def is_transfer(fold: ReferralFold) -> bool:
    """The referral continues another one that moved clinics (its money came in then)."""
    return fold.transferred_from is not None


def main_specialization(fold: ReferralFold) -> str:
    """What kind of case a referral is: the specialization carrying most of the money of
    the estimate as sent (of the current plan if none was sent); ties go to the first in
    the list of specializations. Fixed at sending, so a case never changes column."""
    lines = estimate_lines_as_sent(fold) or (fold.plan.chosen_lines() if fold.plan else ())
    money: dict[str, int] = {}
    for line in lines:
        money[line.specialization] = money.get(line.specialization, 0) + line.price
    if not money:
        return ""
    order = {str(s): n for n, s in enumerate(Specialization)}
    return min(money, key=lambda s: (-money[s], order.get(s, len(order)), s))


def expected_dues(fold: ReferralFold, norms: Norms) -> list[tuple[int, datetime]]:
    """The current plan's money as its schedule expects it: (price, due) per chosen line,
    due at the end of the line's stage, stages back to back from the start of treatment
    (or the booked appointment before it). Nothing is expected of a plan with neither,
    nor after the referral ended unless the line was done (its rest is lost money)."""
    if fold.plan is None:
        return []
    appointment = fold.current_appointment
    anchor = treatment_start(fold) or (appointment.starts_at if appointment else None)
    if anchor is None:
        return []
    lines = fold.plan.chosen_lines()
    ended = ended_at(fold)
    dues = item_due_dates(lines, anchor, norms)
    return [
        (line.price, due)
        for line in lines
        if line.price
        and (due := dues[line.item_id])
        and (ended is None or due < ended or line.item_id in fold.done_items)
    ]


def duration_days(fold: ReferralFold, norms: Norms) -> tuple[int, int] | None:
    """A completed plan's (actual, expected) length in whole days from the start of
    treatment: to its completion, and to the end of its schedule as planned then."""
    start, done = treatment_start(fold), fold.step_at.get(Step.completed)
    if start is None or done is None or fold.reached is not Step.completed or fold.plan is None:
        return None
    schedule = planned_schedule(fold.plan.chosen_lines(), start, norms)
    planned_end = max((end for _, end in schedule.values()), default=start)
    return max((done - start).days, 0), (planned_end - start).days


def ended_at(fold: ReferralFold) -> datetime | None:
    """When the referral stopped being open, as it stands now: declined, closed,
    transferred (the time of that step) or completed; None while open."""
    if fold.step in CLOSURES:
        return fold.step_at.get(fold.step)
    if fold.reached is Step.completed:
        return fold.step_at.get(Step.completed)
    return None


def undone_before(fold: ReferralFold, moment: datetime) -> int:
    """The current plan's money not done before `moment`."""
    if fold.plan is None:
        return 0
    return sum(
        line.price
        for line in fold.plan.chosen_lines()
        if not (line.item_id in fold.done_items and fold.done_items[line.item_id] < moment)
    )


def lost_reason(fold: ReferralFold) -> str:
    return fold.closed_reason or fold.step.value


def _within(at: datetime, *, sent_at: datetime, start: datetime, end: datetime) -> bool:
    # Nothing happens to a referral before it exists: an earlier time counts as sent.
    return start <= max(at, sent_at) < end


def period_funnel(
    histories: Iterable[tuple[UUID, list[Event], tzinfo]],
    *,
    first: date,
    last: date,
    now: datetime,
    policy: VerificationPolicy | None = None,
) -> Funnel:
    funnel = Funnel(first=first, last=last)
    policy = policy or VerificationPolicy()
    lost: dict[str, Lost] = defaultdict(Lost)
    cohorts: Counter[str] = Counter()
    for _, events, tz in histories:
        fold = fold_referral(events)
        start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)
        if fold.sent_at is None or fold.sent_at >= end:
            continue
        funnel.currency = fold.money.currency
        verdicts = verify(fold, now, policy)
        new = fold.sent_at >= start
        sent_at = fold.sent_at
        within = partial(_within, sent_at=sent_at, start=start, end=end)

        if new and is_transfer(fold):
            funnel.transferred_in_count += 1
            funnel.transferred_in_money += estimate_as_sent(fold)
        elif new:
            funnel.in_count += 1
            funnel.in_money += estimate_as_sent(fold)

        if fold.accepted_at is not None and within(fold.accepted_at):
            funnel.accepted_count += 1
            funnel.accepted_money += fold.money.planned
            milestone = "booked" if "booked" in fold.step_at else "visited"
            verdict = verdicts.get(milestone)
            funnel.accepted_split.add(
                split_of(verdict.state if verdict else None), fold.money.planned
            )

        for item_id, done_at in fold.done_items.items():
            if not within(done_at):
                continue
            price = fold.item_prices.get(item_id, 0)
            funnel.executed_money += price
            if new:
                funnel.executed_this_period += price
            else:
                funnel.executed_earlier += price
            verdict = verdicts.get(item_milestone(item_id))
            funnel.executed_split.add(split_of(verdict.state if verdict else None), price)

        paid_as = payment_splits(fold, verdicts)
        for payment in fold.payments:
            if within(payment.occurred_at):
                funnel.paid_money += payment.amount
                funnel.paid_split.add(paid_as.get(payment.event_id, "unverified"), payment.amount)

        ended = ended_at(fold)
        if fold.step is Step.transferred and ended is not None and within(ended):
            funnel.transferred_out_count += 1
            funnel.transferred_out_money += undone_before(fold, ended)
        if ended is None or max(ended, sent_at) >= end:
            remaining = undone_before(fold, end)
            if remaining > 0:
                funnel.reserve_count += 1
                funnel.reserve_money += remaining
                cohorts[month_key(fold.sent_at, tz)] += remaining

        if fold.step in (Step.declined, Step.closed) and ended is not None and within(ended):
            reason = lost_reason(fold)
            lost[reason].count += 1
            lost[reason].money += fold.money.lost
            funnel.lost_count += 1
            funnel.lost_money += fold.money.lost

    funnel.reserve_by_cohort = dict(sorted(cohorts.items()))
    funnel.lost_by_reason = dict(sorted(lost.items(), key=lambda kv: (-kv[1].money, kv[0])))
    return funnel


def months_of_reserve(reserve: int, executed_by_month: list[int]) -> float | None:
    """How many months the reserve would last at the current pace: the reserve over the
    average money executed per month in `executed_by_month` (the last complete months);
    None when nothing was executed (no pace to speak of)."""
    done = sum(executed_by_month)
    return round(reserve * len(executed_by_month) / done, 1) if done > 0 else None

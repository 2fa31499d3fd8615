"""A referral's funnel as dated movements, so that any period's figures are sums.

Reports must not fold every ledger per request. Instead each referral's fold is turned,
whenever its ledger changes, into facts: "on local day D, this much money entered this
figure". A period's in, accepted, executed, paid and lost are the sums of facts dated
inside it; the reserve at its end is the running sum of reserve movements dated before
the end. backend.domain.money_funnel defines the same figures directly, and a
differential test holds the two together to the kopeck.

Reserve movements: +the current plan's money on the day it was sent; −an item's price
on the day it was done; −what was still undone on the day the referral ended
(declined, closed, transferred, completed). Items done after the end move nothing: the
referral has left the reserve. Anything dated before the referral was sent counts as
happening when it was sent.

Beside the funnel, the facts carry what plan vs fact and the health department's
figures need: `expected` (a line's money on the day its schedule expects it),
`started` (count 1 on the first visit; amount: minutes waited since sending),
`treated` (count 1 on the day of the first item done), and on completion `duration`
and `duration_planned` (count 1; amount: days). Every fact of a referral carries its
main specialization (money_funnel.main_specialization).
"""

from datetime import date, datetime, timedelta, tzinfo

import msgspec

from backend.domain.funnel import ReferralFold, Step, item_milestone
from backend.domain.money_funnel import (
    duration_days,
    ended_at,
    estimate_as_sent,
    expected_dues,
    is_transfer,
    lost_reason,
    main_specialization,
    payment_splits,
    split_of,
    treatment_start,
    undone_before,
)
from backend.domain.norms import Norms, effective_norms
from backend.domain.reasons import plan_revisions
from backend.domain.verification import Verification, VerificationPolicy, verify

TRANSFER = "transfer"


class Fact(msgspec.Struct, frozen=True, kw_only=True):
    # in | transferred_in | transferred_out | accepted | executed | paid | lost | reserve
    # (the funnel); revision (a plan version by the clinic: count 1, the money it changed,
    # its reason); accepted_estimate (beside accepted);
    # expected | started | treated | duration | duration_planned (plan vs fact)
    kind: str
    day: date  # the local day it happened, in the clinic's time zone
    amount: int  # minor units; reserve movements may be negative
    count: int = 0  # referrals entering (+1) or leaving (-1) the figure
    split: str = ""  # verified | unverified | disputed, for accepted, executed and paid
    # for lost, its reason; on a transfer's accepted, accepted_estimate, executed and
    # treated facts, TRANSFER (the per-case tables leave them out)
    reason: str = ""


class ReferralFacts(msgspec.Struct, frozen=True, kw_only=True):
    sent_day: date
    cohort: str  # YYYY-MM of the sending day
    specialization: str  # the case's main specialization ("" without a plan)
    currency: str
    facts: tuple[Fact, ...]


def referral_facts(
    fold: ReferralFold,
    tz: tzinfo,
    now: datetime,
    policy: VerificationPolicy | None = None,
    verdicts: dict[str, Verification] | None = None,
    norms: Norms | None = None,
) -> ReferralFacts | None:
    """The movements of one referral (its fold), as of `now`; None for a referral that
    was never sent. `verdicts`, when the caller has them, must be of this fold at `now`;
    `norms` are the clinic's (the exchange's defaults if not given)."""
    if fold.sent_at is None:
        return None
    if verdicts is None:
        verdicts = verify(fold, now, policy or VerificationPolicy())

    sent_at = fold.sent_at

    def day(at: datetime) -> date:
        # Nothing happens to a referral before it exists: an earlier time (a clock off,
        # a back-dated claim) counts on the day it was sent, as in the definition.
        return max(at, sent_at).astimezone(tz).date()

    def state(milestone: str) -> str:
        verdict = verdicts.get(milestone)
        return split_of(verdict.state if verdict else None)

    sent_day = day(fold.sent_at)
    estimate = estimate_as_sent(fold)
    # A transfer's money came in with the referral it continues: not "in" again. Its
    # case figures are tagged, so that the per-case tables count each case once.
    transfer = is_transfer(fold)
    tag = TRANSFER if transfer else ""
    facts = [
        Fact(kind="transferred_in" if transfer else "in", day=sent_day, amount=estimate, count=1)
    ]
    if fold.accepted_at is not None:
        milestone = "booked" if "booked" in fold.step_at else "visited"
        accepted_day = day(fold.accepted_at)
        facts.append(
            Fact(
                kind="accepted",
                day=accepted_day,
                amount=fold.money.planned,
                count=1,
                split=state(milestone),
                reason=tag,
            )
        )
        # The estimate of the same referrals, so that plan and estimate are compared
        # like with like (plan_fact.by_specialization).
        facts.append(
            Fact(kind="accepted_estimate", day=accepted_day, amount=estimate, count=1, reason=tag)
        )
    for item_id, done_at in fold.done_items.items():
        facts.append(
            Fact(
                kind="executed",
                day=day(done_at),
                amount=fold.item_prices.get(item_id, 0),
                split=state(item_milestone(item_id)),
                reason=tag,
            )
        )
    paid_as = payment_splits(fold, verdicts)
    facts += [
        Fact(
            kind="paid",
            day=day(p.occurred_at),
            amount=p.amount,
            split=paid_as.get(p.event_id, "unverified"),
        )
        for p in fold.payments
    ]
    ended = ended_at(fold)
    if fold.step is Step.transferred and ended is not None:
        facts.append(
            Fact(
                kind="transferred_out",
                day=day(ended),
                amount=undone_before(fold, ended),
                count=1,
            )
        )
    if fold.step in (Step.declined, Step.closed) and ended is not None:
        facts.append(
            Fact(
                kind="lost",
                day=day(ended),
                amount=fold.money.lost,
                count=1,
                reason=lost_reason(fold),
            )
        )
    facts += [
        Fact(kind="revision", day=day(r.at), amount=r.change, count=1, reason=r.reason)
        for r in plan_revisions(fold)
    ]
    facts += _reserve(fold, ended, sent_day, day)
    facts += _plan_vs_fact(fold, norms or effective_norms(), day, tag)
    return ReferralFacts(
        sent_day=sent_day,
        cohort=sent_day.strftime("%Y-%m"),
        specialization=main_specialization(fold),
        currency=fold.money.currency,
        facts=tuple(facts),
    )


def _reserve(fold: ReferralFold, ended: datetime | None, sent_day: date, day) -> list[Fact]:
    lines = fold.plan.chosen_lines() if fold.plan else ()
    total = sum(line.price for line in lines)
    if total == 0:
        return []

    moves = [Fact(kind="reserve", day=sent_day, amount=total, count=1)]
    done = [
        (fold.done_items[line.item_id], line.price)
        for line in lines
        if line.item_id in fold.done_items
        and (ended is None or fold.done_items[line.item_id] < ended)
    ]
    moves += [Fact(kind="reserve", day=day(at), amount=-price) for at, price in done if price]
    # It leaves the count when nothing priced is left undone, or when it ends, if sooner.
    priced = [line.item_id for line in lines if line.price]
    all_done_at = (
        max(fold.done_items[i] for i in priced)
        if all(i in fold.done_items for i in priced)
        else None
    )
    if ended is not None:
        undone = undone_before(fold, ended)
        if undone:
            moves.append(Fact(kind="reserve", day=day(ended), amount=-undone))
    stops = [t for t in (all_done_at, ended) if t is not None]
    if stops:
        moves.append(Fact(kind="reserve", day=day(min(stops)), amount=0, count=-1))
    return moves


def _plan_vs_fact(fold: ReferralFold, norms: Norms, day, tag: str) -> list[Fact]:
    assert fold.sent_at is not None
    facts = [
        Fact(kind="expected", day=day(due), amount=price)
        for price, due in expected_dues(fold, norms)
    ]
    start = treatment_start(fold)
    if start is not None:
        waited = max(start - fold.sent_at, timedelta(0))
        facts.append(
            Fact(kind="started", day=day(start), amount=waited // timedelta(minutes=1), count=1)
        )
    if fold.done_items:
        facts.append(
            Fact(
                kind="treated",
                day=day(min(fold.done_items.values())),
                amount=0,
                count=1,
                reason=tag,
            )
        )
    durations = duration_days(fold, norms)
    if durations is not None:
        completed = day(fold.step_at[Step.completed])
        actual, planned = durations
        facts.append(Fact(kind="duration", day=completed, amount=actual, count=1))
        facts.append(Fact(kind="duration_planned", day=completed, amount=planned, count=1))
    return facts

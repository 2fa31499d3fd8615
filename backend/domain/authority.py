"""Who may say what, and which statements make sense for a referral as it stands.

Patients never set clinic-side statuses and clinics never answer for patients: each
side has its own kinds. The service asks here before anything reaches the ledger.
"""

from datetime import datetime, timedelta
from enum import StrEnum

import msgspec

from backend.domain.events import (
    CLINIC_CLAIM_KINDS,
    PATIENT_KINDS,
    Body,
    Contacted,
    ContactRating,
    Correction,
    ItemDone,
    Payment,
    PlanSet,
    Reopened,
    Resolution,
    Side,
    Transferred,
    VariantChosen,
    kind_of,
)
from backend.domain.funnel import CLOSURES, ReferralFold, Step
from backend.domain.verification import milestones_of

# Clocks differ; a claim a few minutes "in the future" is a clock, not a prophecy.
CLOCK_SKEW = timedelta(minutes=5)

KINDS_OF_SIDE: dict[Side, frozenset[str]] = {
    Side.clinic: CLINIC_CLAIM_KINDS | {"plan_set", "correction", "dispute_answer"},
    Side.patient: PATIENT_KINDS,
    Side.exchange: frozenset(
        {"sent", "plan_set", "resolution", "correction", "reopened", "transferred"}
    ),
}


class RefusalKind(StrEnum):
    forbidden = "forbidden"  # this side may not say this
    invalid = "invalid"  # malformed or pointing at nothing
    conflict = "conflict"  # does not fit the referral as it stands


class Refusal(msgspec.Struct, frozen=True):
    kind: RefusalKind
    message: str


def _no(kind: RefusalKind, message: str) -> Refusal:
    return Refusal(kind=kind, message=message)


def check_statement(
    side: Side,
    body: Body,
    fold: ReferralFold,
    *,
    occurred_at: datetime,
    now: datetime,
    retracts_side: Side | None = None,
) -> Refusal | None:
    """None if the statement may be recorded; else why not."""
    kind = kind_of(body)
    if side is not Side.system and kind not in KINDS_OF_SIDE[side]:
        return _no(RefusalKind.forbidden, f"the {side} side cannot state '{kind}'")
    if occurred_at > now + CLOCK_SKEW:
        return _no(RefusalKind.invalid, "occurred_at is in the future")

    if isinstance(body, Contacted) and body.outcome == "booked" and body.appointment_at is None:
        return _no(RefusalKind.invalid, "a booking needs appointment_at")
    if isinstance(body, ItemDone) and body.item_id not in fold.item_prices:
        return _no(RefusalKind.invalid, "item_id is not in any version of this referral's plan")
    if isinstance(body, Payment) and body.amount <= 0:
        return _no(RefusalKind.invalid, "amount must be a positive number of minor units")
    if isinstance(body, PlanSet):
        if side is Side.clinic and body.origin != "actual":
            return _no(RefusalKind.forbidden, "a clinic sets the actual plan, not the estimate")
        if any(line.price < 0 for line in body.lines):
            return _no(RefusalKind.invalid, "prices cannot be negative")
    if isinstance(body, VariantChosen):
        offered = sorted(
            {line.variant for line in fold.plan.lines if line.variant} if fold.plan else ()
        )
        if body.variant not in offered:
            choices = ", ".join(offered) or "none"
            return _no(RefusalKind.invalid, f"variant {body.variant} is not offered ({choices})")
        if not fold.is_open:
            return _no(RefusalKind.conflict, f"the referral is {fold.step}: nothing to choose")
    if isinstance(body, ContactRating) and body.stars is not None and not 1 <= body.stars <= 5:
        return _no(RefusalKind.invalid, "stars must be 1 to 5")
    if isinstance(body, Correction):
        if retracts_side is None:
            return _no(RefusalKind.invalid, "the event to correct is not in this referral")
        if side is Side.clinic and retracts_side is not Side.clinic:
            return _no(RefusalKind.forbidden, "a clinic can only correct its own claims")
    if isinstance(body, Resolution) and body.milestone not in milestones_of(fold):
        return _no(RefusalKind.invalid, f"unknown milestone '{body.milestone}'")
    if isinstance(body, Reopened) and fold.step not in (Step.closed, Step.declined, Step.completed):
        return _no(RefusalKind.conflict, f"nothing to reopen: the referral is {fold.step}")
    if isinstance(body, Transferred) and (
        fold.step in CLOSURES - {Step.declined, Step.closed} or fold.step is Step.completed
    ):
        return _no(RefusalKind.conflict, f"cannot transfer a referral that is {fold.step}")
    return None

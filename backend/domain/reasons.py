"""Why money was lost and why plans changed, per clinic (issue 20).

Two lists a clinic and the exchange read side by side: the money lost in a period by
the reason the referral was declined or closed (as the funnel's *lost*), and the
clinic's plan revisions in the period by the reason it gave the patient, with the
money each revision added or took away. This module is the definition, read off each
referral's fold; reports sum the `lost` and `revision` funnel facts, and the
differential test holds the two together.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from uuid import UUID

import msgspec

from backend.domain.events import Event, PlanSet
from backend.domain.funnel import ReferralFold, Step, fold_referral
from backend.domain.money_funnel import ended_at, local_midnight, lost_reason

NO_REASON = ""  # a revision saved without a reason (the panel insists on one; CRMs may not)


class Revision(msgspec.Struct, frozen=True, kw_only=True):
    """One plan version the clinic made, against the version before it."""

    at: datetime  # when the clinic made it (never before the sending)
    version: int
    reason: str
    change: int  # the chosen variant's total minus the previous version's, minor units


def _total(body: PlanSet) -> int:
    offered = sorted({line.variant for line in body.lines if line.variant})
    variant = body.chosen_variant or (offered[0] if offered else None)
    return sum(line.price for line in body.lines if line.variant in (None, variant))


def plan_revisions(fold: ReferralFold) -> list[Revision]:
    """Every plan version from the clinic's side (origin "actual") with the money it
    changed against the version before it; versions taken back by a correction are not
    revisions. The exchange's own estimates are not the clinic's revisions."""
    if fold.sent_at is None:
        return []
    out, previous = [], None
    for stated in sorted(fold.plan_sets, key=lambda p: (p.body.version, p.event_id)):
        body = stated.body
        if previous is not None and body.origin == "actual":
            out.append(
                Revision(
                    at=max(stated.occurred_at, fold.sent_at),
                    version=body.version,
                    reason=(body.reason or NO_REASON).strip(),
                    change=_total(body) - _total(previous),
                )
            )
        previous = body
    return out


class ReasonRow(msgspec.Struct, kw_only=True):
    clinic_id: UUID
    kind: str  # lost | revision
    reason: str
    count: int = 0
    money: int = 0  # lost: the money not done; revision: the net change (may be < 0)


def reasons_by_clinic(
    histories: Iterable[tuple[UUID, list[Event], tzinfo]], *, first: date, last: date
) -> list[ReasonRow]:
    """For the local days [first, last]: per clinic, money lost by reason (referrals that
    stand declined or closed and got there in the period) and plan revisions made in the
    period by reason. Sorted by clinic, kind, then money lost / revisions made, most
    first, then reason."""
    rows: dict[tuple[UUID, str, str], ReasonRow] = {}

    def row(clinic: UUID, kind: str, reason: str) -> ReasonRow:
        return rows.setdefault(
            (clinic, kind, reason), ReasonRow(clinic_id=clinic, kind=kind, reason=reason)
        )

    for _, events, tz in histories:
        fold = fold_referral(events)
        if fold.sent_at is None or fold.clinic_id is None:
            continue
        start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)
        ended = ended_at(fold)
        lost = fold.step in (Step.declined, Step.closed) and ended is not None
        if lost and start <= max(ended, fold.sent_at) < end:  # type: ignore[type-var]
            r = row(fold.clinic_id, "lost", lost_reason(fold))
            r.count += 1
            r.money += fold.money.lost
        for revision in plan_revisions(fold):
            if start <= revision.at < end:
                r = row(fold.clinic_id, "revision", revision.reason)
                r.count += 1
                r.money += revision.change
    return sort_reasons(rows.values())


def sort_reasons(rows: Iterable[ReasonRow]) -> list[ReasonRow]:
    return sorted(
        rows,
        key=lambda r: (
            str(r.clinic_id),
            r.kind,
            -(r.money if r.kind == "lost" else r.count),
            r.reason,
        ),
    )

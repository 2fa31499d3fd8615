"""Funnel facts: each referral's dated movements (rewritten with its derived rows),
and the sums reports are made of."""

from datetime import date
from typing import Any
from uuid import UUID

from piccolo.query.functions.aggregate import Sum

from backend.domain.funnel_facts import ReferralFacts
from backend.store.tables import FunnelFact


async def replace(referral_id: UUID, clinic_id: UUID, facts: ReferralFacts | None) -> None:
    """The referral's facts as they are now. Derived rows, not records: the ledger keeps
    the history, and these follow it."""
    await FunnelFact.delete().where(FunnelFact.referral == referral_id)
    if facts is None or not facts.facts:
        return
    await FunnelFact.insert(
        *(
            FunnelFact(
                referral=referral_id,
                clinic=clinic_id,
                sent_day=facts.sent_day,
                cohort=facts.cohort,
                day=f.day,
                month=f.day.strftime("%Y-%m"),
                kind=f.kind,
                amount=f.amount,
                count=f.count,
                split=f.split,
                reason=f.reason,
                currency=facts.currency,
            )
            for f in facts.facts
        )
    )


def _scope(clinic_ids: list[UUID] | None):
    if clinic_ids is None:
        return FunnelFact.id.is_not_null()
    return FunnelFact.clinic.is_in(clinic_ids or [UUID(int=0)])


async def flows(
    clinic_ids: list[UUID] | None, first: date, last: date, *, sent_from: date | None = None
) -> list[dict[str, Any]]:
    """Sums of every flow dated in [first, last] by kind, split and reason; with
    `sent_from`, only referrals sent on or after it."""
    query = FunnelFact.select(
        FunnelFact.kind,
        FunnelFact.split,
        FunnelFact.reason,
        Sum(FunnelFact.amount).as_alias("amount"),
        Sum(FunnelFact.count).as_alias("count"),
    ).where(
        (FunnelFact.kind != "reserve")
        & (FunnelFact.day >= first)
        & (FunnelFact.day <= last)
        & _scope(clinic_ids)
    )
    if sent_from is not None:
        query = query.where(FunnelFact.sent_day >= sent_from)
    return await query.group_by(FunnelFact.kind, FunnelFact.split, FunnelFact.reason)


async def reserve(clinic_ids: list[UUID] | None, last: date) -> list[dict[str, Any]]:
    """The reserve at the end of `last`, by cohort: the running sum of its movements."""
    return await (
        FunnelFact.select(
            FunnelFact.cohort,
            Sum(FunnelFact.amount).as_alias("amount"),
            Sum(FunnelFact.count).as_alias("count"),
        )
        .where((FunnelFact.kind == "reserve") & (FunnelFact.day <= last) & _scope(clinic_ids))
        .group_by(FunnelFact.cohort)
    )


async def monthly(clinic_ids: list[UUID] | None, first: date, last: date) -> list[dict[str, Any]]:
    """Money in, executed and lost per month of [first, last]."""
    return await (
        FunnelFact.select(
            FunnelFact.month, FunnelFact.kind, Sum(FunnelFact.amount).as_alias("amount")
        )
        .where(
            FunnelFact.kind.is_in(["in", "executed", "lost"])
            & (FunnelFact.day >= first)
            & (FunnelFact.day <= last)
            & _scope(clinic_ids)
        )
        .group_by(FunnelFact.month, FunnelFact.kind)
    )

"""One referral as every screen about it starts: its row, clinic and patient, the ledger
folded, and its plan versions (items, teeth, variants, explanations) as one `PlanVersion`
that the staff card and the patient's plan screen both read.

Eight plain statements, each by an index, whatever the number of versions: the staff
card and the patient's screen (the screen patients open most) load the same things the
same way.
"""

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import msgspec

from backend.domain.events import Event
from backend.domain.funnel import ReferralFold, fold_referral
from backend.domain.norms import Norms
from backend.domain.plans import (
    Explanation,
    PlanItem,
    ToothState,
    VariantInfo,
    counted_variant,
    of_variant,
)
from backend.store import ledger, norms, plans, referrals
from backend.store.rows import ClinicCard, PatientCard, ReferralRow


class PlanVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A stated version of a referral's plan, as stored, with the variant that counts."""

    id: UUID
    version: int
    origin: str  # estimated (the exchange's) | actual (the clinic's)
    reason: str | None
    chosen_variant: str | None  # as the version itself stated it: only its default
    created_at: datetime
    created_by: str
    variant: str | None  # the variant that counts: the fold's (it knows the patient's choice)
    items: list[PlanItem]  # every variant's, in stage order
    teeth: list[ToothState]
    variants: list[VariantInfo] = []
    explanations: list[Explanation] = []

    @property
    def counted_items(self) -> list[PlanItem]:
        """The counted variant's items, common ones included: what the patient gets."""
        return of_variant(self.items, self.variant)


class ReferralView(msgspec.Struct, frozen=True, kw_only=True):
    referral: ReferralRow
    clinic: ClinicCard
    patient: PatientCard
    events: list[Event]
    fold: ReferralFold
    plans: list[PlanVersion]  # oldest first
    norms: Norms | None = None  # the clinic's duration norms

    def latest(self, origin: str) -> PlanVersion | None:
        """The newest version of one origin (estimated or actual)."""
        return next((v for v in reversed(self.plans) if v.origin == origin), None)


async def load(referral_id: UUID, visible: Callable[[ReferralRow], bool]) -> ReferralView | None:
    """The referral's view, or None when there is no such referral or `visible` (asked of
    the referral's row before anything else is read) says the reader may not see it."""
    found = await referrals.with_parties(referral_id)
    if found is None or not visible(found[0]):
        return None
    referral, clinic, patient = found
    events = await ledger.events_of(referral_id)
    fold = fold_referral(events)
    return ReferralView(
        referral=referral,
        clinic=clinic,
        patient=patient,
        events=events,
        fold=fold,
        plans=await plan_versions(referral_id, fold),
        norms=await norms.norms_for(clinic.id),
    )


async def plan_versions(referral_id: UUID, fold: ReferralFold) -> list[PlanVersion]:
    """Every plan version of the referral, oldest first, each statement for all versions."""
    rows = await plans.versions_of(referral_id)
    items, teeth = await plans.items_by_plan(referral_id), await plans.teeth_by_plan(referral_id)
    infos = await plans.variants_by_plan(referral_id)
    explained = await plans.explanations_by_plan(referral_id)
    counted = {v.plan_id: v.variant for v in (fold.plan, fold.estimated_plan) if v is not None}
    out = []
    for row in rows:
        every = items.get(row.id, [])
        out.append(
            PlanVersion(
                id=row.id,
                version=row.version,
                origin=row.origin,
                reason=row.reason,
                chosen_variant=row.chosen_variant,
                created_at=row.created_at,
                created_by=row.created_by,
                variant=counted[row.id]
                if row.id in counted
                else counted_variant(every, row.chosen_variant),
                items=every,
                teeth=teeth.get(row.id, []),
                variants=infos.get(row.id, []),
                explanations=explained.get(row.id, []),
            )
        )
    return out

"""What the patient app reads: a referral with everything its plan screen needs.

Everything derived is computed here by the domain from the ledger and the plan rows —
step, money, progress, verification — never by the app and never from stale copies.
Another patient's referral is answered exactly like a missing one.
"""

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.funnel import ReferralFold, fold_referral
from backend.domain.norms import Norms
from backend.domain.plans import Explanation, PlanItem, ToothState, VariantInfo, of_variant
from backend.domain.progress import Progress
from backend.domain.verification import Verification, verify
from backend.services.errors import NotFound
from backend.services.recording import policy_for, progress_of
from backend.store import ledger, media, norms, plans, questions, referrals


class PlanVersionView(msgspec.Struct, frozen=True, kw_only=True):
    plan_id: UUID
    version: int
    origin: str
    reason: str | None
    created_at: datetime
    items: list[PlanItem]  # the counted variant's (common items included)
    teeth: list[ToothState]
    variant: str | None = None  # the variant that counts: chosen, else the first
    all_items: list[PlanItem] = []  # every variant's
    variants: list[VariantInfo] = []
    explanations: list[Explanation] = []


class ReferralBundle(msgspec.Struct, frozen=True, kw_only=True):
    referral: dict[str, Any]
    clinic: dict[str, Any]
    patient: dict[str, Any]
    tz: ZoneInfo
    fold: ReferralFold
    verifications: dict[str, Verification]
    progress: Progress
    estimated: PlanVersionView | None
    actual: PlanVersionView | None
    open_questions: list[dict[str, Any]]
    norms: Norms | None = None

    @property
    def current(self) -> PlanVersionView | None:
        return self.actual or self.estimated

    @property
    def lang(self) -> str:
        return self.patient["locale"] if self.patient["locale"] in ("ru", "en") else "ru"


async def owned_referral(patient_id: UUID, referral_id: UUID) -> dict[str, Any]:
    row = await referrals.get(referral_id)
    if row is None or row["patient"] != patient_id or row["archived_at"] is not None:
        raise NotFound("no such referral")
    return row


def _version(
    row: dict[str, Any] | None,
    fold: ReferralFold,
    items: dict[UUID, list[PlanItem]],
    teeth: dict[UUID, list[ToothState]],
    infos: dict[UUID, list[VariantInfo]],
    explained: dict[UUID, list[Explanation]],
) -> PlanVersionView | None:
    if row is None:
        return None
    # The fold knows the choice (the patient's, or a version's): the same for every reader.
    counted = {v.plan_id: v.variant for v in (fold.plan, fold.estimated_plan) if v is not None}
    every = items.get(row["id"], [])
    variant = counted.get(row["id"])
    return PlanVersionView(
        plan_id=row["id"],
        version=row["version"],
        origin=row["origin"],
        reason=row["reason"],
        created_at=row["created_at"],
        items=of_variant(every, variant),
        teeth=teeth.get(row["id"], []),
        variant=variant,
        all_items=every,
        variants=infos.get(row["id"], []),
        explanations=explained.get(row["id"], []),
    )


async def referral_bundle(patient_id: UUID, referral_id: UUID, now: datetime) -> ReferralBundle:
    # Nine plain statements, each by an index (a patient opens this screen most).
    found = await referrals.with_parties(referral_id)
    if found is None:
        raise NotFound("no such referral")
    referral, clinic, patient = found
    if referral["patient"] != patient_id or referral["archived_at"] is not None:
        raise NotFound("no such referral")
    fold = fold_referral(await ledger.events_of(referral_id))
    versions = await plans.versions_of(referral_id)
    items, teeth = await plans.items_by_plan(referral_id), await plans.teeth_by_plan(referral_id)
    estimated = next((v for v in reversed(versions) if v["origin"] == "estimated"), None)
    actual = next((v for v in reversed(versions) if v["origin"] == "actual"), None)
    infos = await plans.variants_by_plan(referral_id)
    explained = await plans.explanations_by_plan(referral_id)
    norm_table = await norms.norms_for(clinic["id"])
    progress = progress_of(fold, norm_table, now)
    return ReferralBundle(
        referral=referral,
        clinic=clinic,
        patient=patient,
        tz=ZoneInfo(patient["timezone"]),
        fold=fold,
        verifications=verify(fold, now, await policy_for(clinic)),
        progress=progress,
        estimated=_version(estimated, fold, items, teeth, infos, explained),
        actual=_version(actual, fold, items, teeth, infos, explained),
        open_questions=await questions.open_about(patient_id, referral_id, now),
        norms=norm_table,
    )


async def media_of(patient_id: UUID, referral_id: UUID) -> list[dict[str, Any]]:
    await owned_referral(patient_id, referral_id)
    return await media.of_referral(referral_id)


async def one_media(patient_id: UUID, media_id: UUID) -> dict[str, Any]:
    row = await media.get(media_id)
    if row is None or row["archived_at"] is not None:
        raise NotFound("no such picture")
    await owned_referral(patient_id, row["referral"])
    return row


async def referral_page(
    patient_id: UUID, now: datetime, *, limit: int, before: tuple[datetime, UUID] | None
) -> list[tuple[dict[str, Any], ReferralBundle]]:
    """The patient's referrals, newest first (up to `limit`, before the cursor), each with
    its plan screen's bundle."""
    rows = await referrals.for_patient(patient_id, limit=limit, before=before)
    return [(row, await referral_bundle(patient_id, row["id"], now)) for row in rows]


async def open_questions(
    patient_id: UUID, now: datetime, *, limit: int, after: tuple[datetime, UUID] | None
) -> list[tuple[dict[str, Any], ReferralBundle]]:
    """The patient's open questions, oldest first, each with its referral's bundle."""
    rows = await questions.open_for_patient(patient_id, now, limit=limit, after=after)
    return [(row, await referral_bundle(patient_id, row["referral"], now)) for row in rows]


async def served_media(media_id: UUID) -> dict[str, Any] | None:
    """A picture's stored file, unless archived: the signed URL is the only check."""
    row = await media.get(media_id)
    return None if row is None or row["archived_at"] is not None else row

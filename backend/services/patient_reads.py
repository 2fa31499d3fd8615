"""What the patient app reads: a referral with everything its plan screen needs.

Everything derived is computed here by the domain from the ledger and the plan rows —
step, money, progress, verification — never by the app and never from stale copies.
Another patient's referral is answered exactly like a missing one.
"""

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.derive import progress_of
from backend.domain.funnel import ReferralFold
from backend.domain.norms import Norms
from backend.domain.progress import Progress
from backend.domain.verification import Verification, verify
from backend.services import referral_view
from backend.services.clinic_settings import policy_for
from backend.services.errors import NotFound
from backend.services.referral_view import PlanVersion
from backend.store import media, questions, referrals
from backend.store.rows import ClinicCard, MediaRow, PatientCard, QuestionRow, ReferralRow


class ReferralBundle(msgspec.Struct, frozen=True, kw_only=True):
    referral: ReferralRow
    clinic: ClinicCard
    patient: PatientCard
    tz: ZoneInfo
    fold: ReferralFold
    verifications: dict[str, Verification]
    progress: Progress
    estimated: PlanVersion | None
    actual: PlanVersion | None
    open_questions: list[QuestionRow]
    norms: Norms | None = None

    @property
    def current(self) -> PlanVersion | None:
        return self.actual or self.estimated

    @property
    def lang(self) -> str:
        return self.patient.locale if self.patient.locale in ("ru", "en") else "ru"


async def owned_referral(patient_id: UUID, referral_id: UUID) -> ReferralRow:
    row = await referrals.get(referral_id)
    if row is None or row.patient != patient_id or row.archived_at is not None:
        raise NotFound("no such referral")
    return row


async def referral_bundle(patient_id: UUID, referral_id: UUID, now: datetime) -> ReferralBundle:
    view = await referral_view.load(
        referral_id,
        lambda row: row.patient == patient_id and row.archived_at is None,
    )
    if view is None:
        raise NotFound("no such referral")
    fold, patient = view.fold, view.patient
    return ReferralBundle(
        referral=view.referral,
        clinic=view.clinic,
        patient=patient,
        tz=ZoneInfo(patient.timezone),
        fold=fold,
        verifications=verify(fold, now, await policy_for(view.clinic)),
        progress=progress_of(fold, view.norms, now),
        estimated=view.latest("estimated"),
        actual=view.latest("actual"),
        open_questions=await questions.open_about(patient_id, referral_id, now),
        norms=view.norms,
    )


async def media_of(patient_id: UUID, referral_id: UUID) -> list[MediaRow]:
    await owned_referral(patient_id, referral_id)
    return await media.of_referral(referral_id)


async def one_media(patient_id: UUID, media_id: UUID) -> MediaRow:
    row = await media.get(media_id)
    if row is None or row.archived_at is not None:
        raise NotFound("no such picture")
    await owned_referral(patient_id, row.referral)
    return row


async def open_questions(
    patient_id: UUID, now: datetime, *, limit: int, after: tuple[datetime, UUID] | None
) -> list[tuple[QuestionRow, ReferralBundle]]:
    """The patient's open questions, oldest first, each with its referral's bundle."""
    rows = await questions.open_for_patient(patient_id, now, limit=limit, after=after)
    return [(row, await referral_bundle(patient_id, row.referral, now)) for row in rows]


async def served_media(media_id: UUID) -> MediaRow | None:
    """A picture's stored file, unless archived: the signed URL is the only check."""
    row = await media.get(media_id)
    return None if row is None or row.archived_at is not None else row

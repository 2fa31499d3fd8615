"""The queries behind the clinic's and the exchange's desks: lists with filters."""

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from backend.domain.funnel import Step
from backend.store.privacy import ERASED_NAME
from backend.store.rows import (
    AuditRow,
    ClinicRow,
    DeskRating,
    DeskReferral,
    DisputeRow,
    NobodyCalled,
    VerificationRef,
    json_object,
    typed,
)
from backend.store.tables import AuditLog, Clinic, ContactRating, Referral, Verification

IN_TREATMENT_STEPS = ["booked", "visited", "in_treatment"]
REFERRAL_COLUMNS = (
    Referral.id,
    Referral.step,
    Referral.sent_at,
    Referral.currency,
    Referral.planned_amount,
    Referral.executed_amount,
    Referral.paid_amount,
    Referral.remaining_amount,
    Referral.disputed_count,
    Referral.overdue_count,
    Referral.chosen_variant,
    Referral.variant_chosen_by,
    Referral.clinic,
    Referral.clinic.name.as_alias("clinic_name"),
    Referral.patient,
    Referral.patient.name.as_alias("patient_name"),
    Referral.patient.phone.as_alias("patient_phone"),
    Referral.patient.erased_at.as_alias("patient_erased_at"),
)


T = TypeVar("T")


def _shown(rows: list[dict[str, Any]], shape: type[T]) -> list[T]:
    """A patient who had their data erased is listed as such, not as a blank name and
    a placeholder phone (`patient_erased_at` stays in the row for the pages' own word)."""
    for row in rows:
        if row.get("patient_erased_at") is not None:
            row["patient_name"] = ERASED_NAME
            if "patient_phone" in row:
                row["patient_phone"] = ""
    return [typed(row, shape) for row in rows]


class ReferralFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which referrals a desk's list shows: those that pass every filter set (none set:
    all, newest first)."""

    clinic_id: UUID | None = None
    step: Step | None = None
    overdue: bool = False  # a milestone past its verification deadline
    disputed: bool = False  # a milestone in dispute
    behind: bool = False  # an open plan past its expected schedule (the duration norms)
    search: str | None = None  # a part of the patient's name or phone


def _behind():
    """An open plan past its expected schedule (the duration norms), in treatment."""
    return (Referral.schedule == "behind") & Referral.step.is_in(IN_TREATMENT_STEPS)


async def referrals(
    filters: ReferralFilter, *, limit: int, before: tuple[datetime, UUID] | None = None
) -> list[DeskReferral]:
    query = Referral.select(*REFERRAL_COLUMNS).where(Referral.archived_at.is_null())
    if filters.behind:
        query = query.where(_behind())
    if filters.clinic_id is not None:
        query = query.where(Referral.clinic == filters.clinic_id)
    if filters.step is not None:
        query = query.where(Referral.step == filters.step.value)
    if filters.overdue:
        query = query.where(Referral.overdue_count > 0)
    if filters.disputed:
        query = query.where(Referral.disputed_count > 0)
    if filters.search:
        needle = filters.search.casefold().replace("%", "").replace("_", "")
        bare = needle.translate(str.maketrans("", "", " -()+"))
        if len(bare) >= 4 and bare.isdigit():
            needle = bare  # a phone number typed with spaces, dashes or brackets
        query = query.where(Referral.patient.search_key.like(f"%{needle}%"))
    if before is not None:
        sent_at, referral_id = before
        query = query.where(
            (Referral.sent_at < sent_at)
            | ((Referral.sent_at == sent_at) & (Referral.id < referral_id))
        )
    return _shown(
        await query.order_by(Referral.sent_at, ascending=False)
        .order_by(Referral.id, ascending=False)
        .limit(limit),
        DeskReferral,
    )


async def ratings(clinic_id: UUID, *, limit: int) -> list[DeskRating]:
    return _shown(
        await ContactRating.select(
            ContactRating.referral,
            ContactRating.called,
            ContactRating.stars,
            ContactRating.comment,
            ContactRating.updated_at,
            ContactRating.referral.patient.name.as_alias("patient_name"),
            ContactRating.referral.patient.erased_at.as_alias("patient_erased_at"),
        )
        .where(ContactRating.referral.clinic == clinic_id)
        .order_by(ContactRating.updated_at, ascending=False)
        .limit(limit),
        DeskRating,
    )


async def nobody_called(clinic_id: UUID, *, limit: int) -> list[NobodyCalled]:
    """Open referrals whose patient's last word on the call is 'no'."""
    return _shown(
        await Verification.select(
            Verification.referral,
            Verification.state,
            Verification.patient_said_at,
            Verification.referral.sent_at.as_alias("sent_at"),
            Verification.referral.step.as_alias("step"),
            Verification.referral.patient.name.as_alias("patient_name"),
            Verification.referral.patient.phone.as_alias("patient_phone"),
            Verification.referral.patient.erased_at.as_alias("patient_erased_at"),
        )
        .where(
            (Verification.milestone == "contacted")
            & (Verification.patient_answer == "no")
            & (Verification.referral.clinic == clinic_id)
            & Verification.referral.step.is_in(
                [
                    "sent",
                    "delivered",
                    "unreachable",
                    "contacted",
                    "booked",
                    "visited",
                    "in_treatment",
                ]
            )
        )
        .order_by(Verification.patient_said_at)
        .limit(limit),
        NobodyCalled,
    )


async def disputes(
    *, clinic_id: UUID | None, limit: int, after: tuple[datetime, UUID] | None = None
) -> list[DisputeRow]:
    """Disputed and clinic-silent milestones, oldest first."""
    query = Verification.select(
        Verification.id,
        Verification.referral.as_alias("referral_id"),
        Verification.milestone,
        Verification.state,
        Verification.claim_event_id,
        Verification.clinic_said_at,
        Verification.patient_event_id,
        Verification.patient_answer,
        Verification.patient_said_at,
        Verification.updated_at,
        Verification.referral.clinic.as_alias("clinic_id"),
        Verification.referral.clinic.name.as_alias("clinic_name"),
        Verification.referral.patient.name.as_alias("patient_name"),
        Verification.referral.patient.erased_at.as_alias("patient_erased_at"),
    ).where(Verification.state.is_in(["disputed", "clinic_silent"]))
    if clinic_id is not None:
        query = query.where(Verification.referral.clinic == clinic_id)
    if after is not None:
        at, verification_id = after
        query = query.where(
            (Verification.updated_at > at)
            | ((Verification.updated_at == at) & (Verification.id > verification_id))
        )
    return _shown(
        await query.order_by(Verification.updated_at).order_by(Verification.id).limit(limit),
        DisputeRow,
    )


async def verification(verification_id: UUID) -> VerificationRef | None:
    row = (
        await Verification.select(
            Verification.id,
            Verification.referral,
            Verification.milestone,
            Verification.state,
            Verification.referral.clinic.as_alias("clinic_id"),
        )
        .where(Verification.id == verification_id)
        .first()
    )
    return None if row is None else typed(row, VerificationRef)


async def audit_entries(
    *,
    limit: int,
    before_id: int | None = None,
    object_id: str | None = None,
    actor: str | None = None,
) -> list[AuditRow]:
    query = AuditLog.select()
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if actor:
        query = query.where(AuditLog.actor == actor)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    rows = await query.order_by(AuditLog.id, ascending=False).limit(limit)
    return [typed({**r, "details": json_object(r["details"])}, AuditRow) for r in rows]


async def clinics(*, include_archived: bool = False) -> list[ClinicRow]:
    query = Clinic.select()
    if not include_archived:
        query = query.where(Clinic.archived_at.is_null())
    return [typed(r, ClinicRow) for r in await query.order_by(Clinic.name)]


async def behind_schedule(clinic_id: UUID, *, limit: int) -> list[DeskReferral]:
    """Open referrals whose plan is behind its expected schedule: the follow-up list."""
    return _shown(
        await Referral.select(*REFERRAL_COLUMNS, Referral.expected_finish)
        .where((Referral.clinic == clinic_id) & Referral.archived_at.is_null() & _behind())
        .order_by(Referral.expected_finish)
        .limit(limit),
        DeskReferral,
    )

"""Typed rows the store answers with: one frozen Struct per row shape, converted once
from the database's row (msgspec.convert), so callers read attributes, not keys."""

from datetime import datetime
from typing import TypeVar
from uuid import UUID

import msgspec

T = TypeVar("T")


def typed(row: object, shape: type[T]) -> T:
    """One database row as its Struct (UUIDs and stamps as SQLite's text or as objects)."""
    return msgspec.convert(row, shape, strict=False)


class PlanRow(msgspec.Struct, frozen=True, kw_only=True):
    """One stated version of a referral's plan (its items, teeth, variants apart)."""

    id: UUID
    referral: UUID
    version: int
    origin: str  # estimated | actual
    currency: str
    chosen_variant: str | None
    reason: str | None
    created_by: str
    created_at: datetime


class MediaRow(msgspec.Struct, frozen=True, kw_only=True):
    """A picture of a referral: where its bytes are and what it shows."""

    id: UUID
    referral: UUID
    kind: str  # xray | photo | scan
    phase: str  # before | after | progress
    tooth: int | None
    caption: str
    storage_key: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    archived_at: datetime | None
    uploaded_by: str


class ReferralRow(msgspec.Struct, frozen=True, kw_only=True):
    """A referral as stored: who, where, and the columns the fold derives from the ledger."""

    id: UUID
    patient: UUID
    clinic: UUID
    invite_code: str
    transferred_from: UUID | None
    sent_at: datetime
    step: str
    reached: str
    step_at: dict[str, datetime]  # the first time each step was reached
    closed_reason: str | None
    accepted_at: datetime | None
    currency: str
    estimated_amount: int
    planned_amount: int
    accepted_amount: int
    executed_amount: int
    paid_amount: int
    remaining_amount: int
    lost_amount: int
    schedule: str
    expected_finish: datetime | None
    disputed_count: int
    overdue_count: int
    verification_due_at: datetime | None
    chosen_variant: str | None
    variant_chosen_by: str | None
    folded_event_id: int
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class LockedReferral(msgspec.Struct, frozen=True, kw_only=True):
    """A referral held for a change (store.referrals.lock): who, where, and what the
    rules of its clinic need to know before loading anything else."""

    id: UUID
    clinic: UUID
    patient: UUID
    schedule: str  # as last derived: a plan that has just fallen behind raises an alert
    clinic_timezone: str
    clinic_sla_minutes: int | None  # the clinic's own first-contact SLA, if it set one
    fold_state: bytes | None  # the fold in progress as last saved (domain.funnel.FoldState)


class AppointmentRow(msgspec.Struct, frozen=True, kw_only=True):
    """A visit booked for a referral, as the fold derived it (FHIR status words)."""

    id: UUID
    referral: UUID
    starts_at: datetime
    status: str  # booked | fulfilled | noshow | cancelled
    patient_status: str  # needs-action | accepted | declined | tentative
    booked_event_id: int
    updated_at: datetime


class DeviceRow(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's device: where pushes go (never deleted; deactivated instead)."""

    id: UUID
    patient: UUID
    token: str  # an FCM registration token or installation id
    kind: str  # fcm_token | fid
    platform: str  # ios | android | web
    app_version: str
    locale: str
    active: bool
    created_at: datetime
    last_seen_at: datetime
    deactivated_at: datetime | None
    deactivated_reason: str | None


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's refresh token, stored as its hash, in its rotation family."""

    id: UUID
    family: UUID
    patient: UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class QuestionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A verification question to the patient (a FHIR Task): asked once, answered once."""

    id: UUID
    referral: UUID
    patient: UUID
    kind: str
    milestone: str
    subject: str
    about_at: datetime | None
    item_id: UUID | None
    status: str  # requested | completed | cancelled
    asked_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    answer: str | None
    answer_event_id: int | None

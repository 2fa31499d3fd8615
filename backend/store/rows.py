"""Typed rows the store answers with: one frozen Struct per row shape, converted once
from the database's row (msgspec.convert), so callers read attributes, not keys."""

from datetime import datetime, time
from typing import Any, Literal, TypeVar
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

T = TypeVar("T")


def typed(row: object, shape: type[T]) -> T:
    """One database row as its Struct (UUIDs and stamps as SQLite's text or as objects)."""
    return msgspec.convert(row, shape, strict=False)


def json_object(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """A JSON column as read: text (decoded; empty: {}) or already an object."""
    if isinstance(value, str):
        return msgspec.json.decode(value) if value else {}
    return value or {}


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


class PictureSize(msgspec.Struct, frozen=True, kw_only=True):
    """One smaller copy of a picture: a size (thumb, screen) in one format (webp, jpeg)."""

    name: str
    format: str
    key: str
    width: int
    height: int
    size_bytes: int


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
    width: int | None = None
    height: int | None = None
    sizes: tuple[PictureSize, ...] = ()


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
    # The screens' epoch as the lock found it: every edit of a clinic, its settings or
    # norms raises it (store.screens.outdate_all), so the clinic's rules are kept per
    # process under it (services.clinic_settings.rules_for).
    rules_epoch: int = 0


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


class QuestionToAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's own question with its referral held for the answer
    (store.questions.to_answer), and what the answer's reply needs of the patient."""

    question: QuestionRow
    referral: LockedReferral
    patient_locale: str
    patient_timezone: str
    patient_erased: bool


class ClinicRow(msgspec.Struct, frozen=True, kw_only=True):
    """A partner clinic: where it is, how referrals reach it, its first-contact promise."""

    id: UUID
    name: str
    city: str
    district: str | None
    address: str
    phone: str
    timezone: str  # IANA name
    delivery_channel: str  # panel | bitrix24 | amocrm | webhook | ident
    first_contact_sla_minutes: int | None
    created_at: datetime
    archived_at: datetime | None
    show_prices_to_patients: bool


class PatientRow(msgspec.Struct, frozen=True, kw_only=True):
    """A patient: contact, language, zone, preferences (JSON text), erasure."""

    id: UUID
    phone: str  # E.164
    name: str
    search_key: str
    locale: str
    timezone: str
    firebase_uid: str | None
    notification_prefs: str | None  # JSON text, as stored
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    created_at: datetime
    archived_at: datetime | None
    erased_at: datetime | None
    sms_blocked_at: datetime | None
    sms_blocked_reason: str | None


class StaffRow(msgspec.Struct, frozen=True, kw_only=True):
    """A staff account: role, clinic (none for the exchange), second factor, preferences."""

    id: UUID
    email: str
    name: str
    role: str
    clinic: UUID | None
    password_hash: str
    totp_secret: str | None
    totp_confirmed_at: datetime | None
    totp_last_step: int | None
    created_at: datetime
    last_login_at: datetime | None
    archived_at: datetime | None
    alert_prefs: str | None  # JSON text, as stored


class ClinicCard(msgspec.Struct, frozen=True, kw_only=True):
    """What a screen about one referral needs of its clinic (read with the referral)."""

    id: UUID
    name: str
    city: str
    address: str
    phone: str
    timezone: str
    first_contact_sla_minutes: int | None
    show_prices: bool


class PatientCard(msgspec.Struct, frozen=True, kw_only=True):
    """What a screen about one referral needs of its patient (read with the referral)."""

    id: UUID
    name: str
    phone: str
    locale: str
    timezone: str
    erased_at: datetime | None


class DeskReferral(msgspec.Struct, frozen=True, kw_only=True):
    """A referral as the desks list it: its clinic and patient by name, its money."""

    id: UUID
    step: str
    sent_at: datetime
    currency: str
    planned_amount: int
    executed_amount: int
    paid_amount: int
    remaining_amount: int
    disputed_count: int
    overdue_count: int
    chosen_variant: str | None
    variant_chosen_by: str | None
    clinic: UUID
    clinic_name: str
    patient: UUID
    patient_name: str  # "erased" for a patient who had their data erased
    patient_phone: str  # empty for an erased patient
    patient_erased_at: datetime | None
    expected_finish: datetime | None = None  # in the follow-up list


class DeskRating(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's rating of how the clinic got in touch, with the patient's name."""

    referral: UUID
    called: bool
    stars: int | None
    comment: str
    updated_at: datetime
    patient_name: str
    patient_erased_at: datetime | None


class NobodyCalled(msgspec.Struct, frozen=True, kw_only=True):
    """An open referral whose patient's last word on the call is 'no'."""

    referral: UUID
    state: str
    patient_said_at: datetime | None
    sent_at: datetime
    step: str
    patient_name: str
    patient_phone: str
    patient_erased_at: datetime | None


class DisputeRow(msgspec.Struct, frozen=True, kw_only=True):
    """A disputed or clinic-silent milestone, with its clinic and patient by name."""

    id: UUID
    referral_id: UUID
    milestone: str
    state: str
    claim_event_id: int | None
    clinic_said_at: datetime | None
    patient_event_id: int | None
    patient_answer: str | None
    patient_said_at: datetime | None
    updated_at: datetime
    clinic_id: UUID
    clinic_name: str
    patient_name: str
    patient_erased_at: datetime | None


class VerificationRef(msgspec.Struct, frozen=True, kw_only=True):
    """Which referral and clinic one verification belongs to, and its state."""

    id: UUID
    referral: UUID
    milestone: str
    state: str
    clinic_id: UUID


class AuditRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the audit log: who saw or changed what, from where."""

    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    object_kind: str
    object_id: str
    ip: str
    request_id: str
    details: dict[str, Any]


class StoredVerification(msgspec.Struct, frozen=True, kw_only=True):
    """A milestone's verification as the fold last wrote it."""

    id: UUID
    referral: UUID
    milestone: str
    state: str
    claim_event_id: int | None
    clinic_said_at: datetime | None
    appointment_at: datetime | None
    patient_event_id: int | None
    patient_answer: str | None
    patient_said_at: datetime | None
    resolution_event_id: int | None
    due_at: datetime | None
    updated_at: datetime


class StaffSessionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A staff session and who it belongs to (read on every staff request)."""

    id: UUID
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    staff_id: UUID
    email: str
    name: str
    role: str
    clinic_id: UUID | None
    staff_archived_at: datetime | None


class PriceRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a price list, as the price-list pages show it."""

    code: str
    specialization: str
    title_ru: str
    title_en: str
    price: int
    result_condition: str | None
    course_days: int | None
    updated_at: datetime


class RestatementRow(msgspec.Struct, frozen=True, kw_only=True):
    """Reports being restated after a settings change: how far the worker has got."""

    id: UUID
    scope: str  # a clinic id, or "all"
    reason: str
    requested_by: str
    requested_at: datetime
    total: int
    done: int
    last_referral: UUID | None
    finished_at: datetime | None


class WorkPerson(msgspec.Struct, frozen=True, kw_only=True):
    """A referral on the coordinator's worklist: its patient and where it stands."""

    id: UUID
    step: str
    sent_at: datetime
    step_at: dict[str, datetime]  # the first time each step was reached
    closed_reason: str | None
    patient_name: str
    patient_phone: str


class UnansweredCall(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's "nobody called me", and when the clinic last said it called."""

    referral: UUID
    patient_said_at: datetime | None
    clinic_said_at: datetime | None


class MissedAppointment(msgspec.Struct, frozen=True, kw_only=True):
    """A referral's latest appointment, missed, cancelled, declined or to be moved."""

    id: UUID
    referral: UUID
    status: str
    patient_status: str
    starts_at: datetime


class BehindPlan(msgspec.Struct, frozen=True, kw_only=True):
    """An open plan behind its schedule: when it should have finished."""

    id: UUID
    expected_finish: datetime | None
    updated_at: datetime


class CallNoteRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a referral's call history: an outcome, a note, maybe a call-back."""

    id: UUID
    referral: UUID
    clinic: UUID
    staff: UUID
    outcome: str
    reason: str  # the worklist entry it answered (its key)
    note: str
    callback_at: datetime | None
    callback_done_at: datetime | None
    created_at: datetime


class AlertRow(msgspec.Struct, frozen=True, kw_only=True):
    """A staff alert, recorded once: what happened, about which clinic and referral."""

    id: int
    dedupe_key: str
    kind: str
    clinic: UUID | None
    referral: UUID | None
    details: dict[str, Any]  # no personal data: times, milestone, delivery id
    happened_at: datetime
    created_at: datetime


class AlertPerson(msgspec.Struct, frozen=True, kw_only=True):
    """A staff member as alerts see them: where to write, in which role, how they like it."""

    id: UUID
    email: str
    name: str
    role: str
    clinic: UUID | None
    alert_prefs: dict[str, Any]  # backend.domain.staff_alerts.AlertPrefs, as stored
    archived_at: datetime | None


class StaffAccountRow(msgspec.Struct, frozen=True, kw_only=True):
    """A staff account as the exchange manages it (no password, no key)."""

    id: UUID
    email: str
    name: str
    role: str
    clinic: UUID | None
    clinic_name: str | None
    totp_confirmed_at: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    archived_at: datetime | None


class LinkedReferral(msgspec.Struct, frozen=True, kw_only=True):
    """A patient's link by its hash, with what decides whether it still opens."""

    id: UUID
    referral: UUID
    patient: UUID
    question: UUID | None
    revoked_at: datetime | None
    step: str
    step_at: dict[str, datetime]
    referral_archived_at: datetime | None
    erased_at: datetime | None  # the patient's
    locale: str


class PatientLinkRow(msgspec.Struct, frozen=True, kw_only=True):
    """A personal link to a referral's page (stored as the hash of its token)."""

    id: UUID
    referral: UUID
    patient: UUID
    question: UUID | None
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None


class SmsCodeRow(msgspec.Struct, frozen=True, kw_only=True):
    """A code sent by SMS that proves the phone (stored as its HMAC)."""

    id: UUID
    referral: UUID
    patient: UUID
    code_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


class WebSessionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A browser where the patient proved the phone."""

    id: UUID
    patient: UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class ReferralOwner(msgspec.Struct, frozen=True, kw_only=True):
    """A referral's patient and state, for minting a link."""

    id: UUID
    patient: UUID
    step: str
    step_at: dict[str, datetime]
    sent_at: datetime
    archived_at: datetime | None
    erased_at: datetime | None  # the patient's


class SmsMessageRow(msgspec.Struct, frozen=True, kw_only=True):
    """A text message decided for a patient: what it is about, and how far it got."""

    id: UUID
    source_key: str  # one SMS per notification or code
    patient: UUID
    referral: UUID | None
    kind: str  # backend.domain.sms.SmsKind
    question: UUID | None
    appointment: UUID | None
    code: UUID | None
    link: UUID | None
    urgent: bool
    status: str  # queued | sending | sent | logged | skipped | failed
    reason: str | None
    planned_at: datetime
    parts: int
    vendor_id: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None


class SmsTotal(msgspec.Struct, frozen=True, kw_only=True):
    """Messages and billed parts of one kind in one status."""

    kind: str
    status: str = ""
    reason: str | None = None  # with the skipped ones: why
    messages: int
    parts: int = 0


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    """A message in the outbox: its topic, payload and where its delivery stands."""

    id: int
    topic: str
    dedupe_key: str | None
    referral: UUID | None
    payload: dict[str, Any]
    status: str  # pending | in_flight | done | logged | skipped | failed
    available_at: datetime
    attempts: int
    locked_by: str | None
    locked_until: datetime | None
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


class IntegrationRow(msgspec.Struct, frozen=True, kw_only=True):
    """A clinic's connection to its system, with the clinic's time zone (a CRM's times
    without an offset are the clinic's local time)."""

    id: UUID
    clinic: UUID
    system: str  # bitrix24 | amocrm | webhook | ident
    inbound_token_hash: str
    config: dict[str, Any]  # stage map and other non-secret settings
    secrets: str  # sealed (backend.runtime.secrets_box)
    last_sync_at: datetime | None
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    clinic_timezone: str
    version: int  # raised by every change of token, secrets or settings


class DeliveryRow(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery from a clinic's system, as the inbox keeps it (headers and body only
    when read one by one)."""

    id: int
    clinic: UUID
    system: str
    received_at: datetime
    status: str
    delivery_key: str | None
    error: str | None
    result: dict[str, Any]
    attempts: int
    processed_at: datetime | None
    headers: dict[str, Any] | None = None
    body: str | None = None


# A delivery's result, as the inbox stores it (JSON in `inbox.result`) and operators read
# it. Its shape is older than these Structs and rows stored long ago are read next to new
# ones, so each field keeps what it always was: a None field is written as null, an UNSET
# one is left out (tests/http/test_inbox_outcomes.py pins each kind, key by key).


class MoneyDone(msgspec.Struct, frozen=True, kw_only=True):
    """What a change's money recorded (services.crm_money.apply_money): the details when
    it was applied; only the errors when there was no referral to apply it to; only a
    note when the state was older than the one applied."""

    status: Literal["recorded", "same", "stale", "refused"]
    plan_version: int | UnsetType | None = UNSET  # the plan version the rows made
    added_lines: tuple[str, ...] | UnsetType = UNSET  # rows new to the plan, by title
    items_done: tuple[str, ...] | UnsetType = UNSET  # item ids
    payments: tuple[int, ...] | UnsetType = UNSET
    corrections: tuple[int, ...] | UnsetType = UNSET  # event ids taken back
    unmatched_done_rows: tuple[str, ...] | UnsetType = UNSET
    deal_amount: int | UnsetType | None = UNSET
    rows_amount: int | UnsetType | None = UNSET
    errors: tuple[str, ...] | UnsetType = UNSET  # only when refused
    note: str | UnsetType = UNSET  # only when stale


ChangeStatus = Literal["recorded", "duplicate", "refused", "ignored", "unmapped"]


class ChangeOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one change a delivery carried (services.inbox): the object and the
    claim it named, then the outcome and what goes with it."""

    external_id: str | None  # the vendor's object ("deal:759"); None for an MIS event
    referral_id: UUID | None  # None: not one of ours, or not at this clinic
    stage: str | None
    claim: str | None  # the claim's kind
    money: MoneyDone | UnsetType = UNSET  # when the change carried money
    outcome: ChangeStatus
    event_id: int | UnsetType = UNSET  # the claim's event (recorded or duplicate)
    note: str | UnsetType | None = UNSET  # why it was ignored
    plan_version: int | UnsetType = UNSET  # a plan an MIS stated
    corrections: tuple[int, ...] | UnsetType = UNSET  # a procedure an MIS cancelled
    error: str | UnsetType = UNSET  # why it was refused


class DeliveryResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a delivery's changes became, and the stages they named that the stage map
    does not know (read back by store.integrations.unknown_stages)."""

    changes: tuple[ChangeOutcome, ...] = ()
    unknown_stages: tuple[str, ...] = ()


DeliveryStatus = Literal["processed", "ignored", "unmapped", "failed"]


class FinishedDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery's end, as the worker writes it: status, error and result."""

    id: int
    status: DeliveryStatus
    error: str | None
    result: DeliveryResult


class TicketRow(msgspec.Struct, frozen=True, kw_only=True):
    """A referral as a clinic's system takes it: what, when, and whom to call."""

    id: UUID
    sent_at: datetime
    invite_code: str
    estimated_amount: int
    currency: str
    step: str
    phone: str
    name: str


class FunnelSum(msgspec.Struct, frozen=True, kw_only=True):
    """A sum of funnel facts of one kind, by the keys its query groups by (the others
    stay empty)."""

    kind: str
    amount: int  # minor units, or days for durations
    count: int
    month: str = ""  # YYYY-MM the money moved in
    cohort: str = ""  # YYYY-MM the referral was sent in
    split: str = ""  # verified | unverified | disputed
    reason: str = ""
    specialization: str = ""
    clinic: UUID | None = None


class HealthFact(msgspec.Struct, frozen=True, kw_only=True):
    """One referral's fact for the health department, its patient an opaque key."""

    month: str
    clinic: UUID
    specialization: str
    kind: str
    amount: int
    patient: UUID


class RatingRow(msgspec.Struct, frozen=True, kw_only=True):
    """The patient's latest rating of how the clinic got in touch."""

    id: UUID
    referral: UUID
    called: bool
    stars: int | None
    comment: str
    event_id: int
    updated_at: datetime


class VisitCodeRow(msgspec.Struct, frozen=True, kw_only=True):
    """A one-time code shown at reception (stored as its HMAC)."""

    id: UUID
    referral: UUID
    code_hash: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


class CodedItem(msgspec.Struct, frozen=True, kw_only=True):
    """A coded line of an actual plan version, with its referral's patient, clinic and
    sending time (the health department's price spreads)."""

    code: str
    specialization: str
    price: int
    variant: str | None
    version: int
    chosen: str | None  # the plan version's chosen variant
    referral: UUID
    patient: UUID
    clinic: UUID
    sent_at: datetime

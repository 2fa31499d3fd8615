"""Request and response bodies of the clinic and exchange APIs."""

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from backend.domain.plan_import import (
    DraftExplanation,
    DraftItem,
    VariantText,
)
from backend.domain.roles import Role


class Amount(msgspec.Struct, frozen=True, kw_only=True):
    amount: int  # minor units
    currency: str


class StaffSession(msgspec.Struct, frozen=True, kw_only=True):
    token: Annotated[str, msgspec.Meta(description="send as Authorization: Bearer <token>")]
    expires_at: datetime
    idle_minutes: int
    staff_id: UUID
    role: Role
    clinic_id: UUID | None


class ReferralRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    clinic_id: UUID
    clinic_name: str
    patient_name: str
    patient_phone: str | None  # hidden from the exchange's analysts
    step: str
    sent_at: datetime
    planned: Amount
    executed: Amount
    paid: Amount
    remaining: Amount
    disputed: int
    overdue: int
    chosen_variant: Annotated[
        str | None, msgspec.Meta(description="the option that counts (A, B…), if any")
    ] = None
    variant_chosen_by: Annotated[
        str | None, msgspec.Meta(description="patient | clinic | exchange; null: not chosen")
    ] = None


class ReferralList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ReferralRow]
    next_cursor: str | None


class PlanItemOut(msgspec.Struct, frozen=True, kw_only=True):
    item_id: UUID
    title_ru: str
    title_en: str
    code: str
    specialization: str
    tooth: int | None
    stage: int
    variant: str | None
    price: int
    done_at: datetime | None


class VariantSummaryOut(msgspec.Struct, frozen=True, kw_only=True):
    variant: str | None
    title_ru: str
    title_en: str
    pros_ru: str
    pros_en: str
    cons_ru: str
    cons_en: str
    counted: bool
    total: Annotated[int, msgspec.Meta(description="common items and this option's, minor units")]
    course_days: Annotated[int, msgspec.Meta(description="by the clinic's duration norms")]


class ExplanationOut(msgspec.Struct, frozen=True, kw_only=True):
    variant: str | None
    stage: int | None
    item_id: UUID | None
    visit: int | None
    problem_ru: str
    problem_en: str
    solution_ru: str
    solution_en: str
    specialists: list[str]


class PlanOut(msgspec.Struct, frozen=True, kw_only=True):
    plan_id: UUID
    version: int
    origin: Literal["estimated", "actual"]
    reason: str | None
    created_at: datetime
    total: Annotated[int, msgspec.Meta(description="the counted option's total")]
    items: list[PlanItemOut]
    chosen_variant: str | None = None
    variants: list[VariantSummaryOut] = []
    explanations: list[ExplanationOut] = []


class VerificationOut(msgspec.Struct, frozen=True, kw_only=True):
    milestone: str
    state: str
    clinic_said_at: datetime | None
    patient_answer: str | None
    patient_said_at: datetime | None
    due_at: datetime | None


class AppointmentOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    starts_at: datetime
    status: str
    patient_status: str


class PatientOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    phone: str
    locale: str


class ReferralCardOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    clinic_id: UUID
    clinic_name: str
    invite_code: str
    transferred_from: UUID | None
    patient: PatientOut
    step: str
    step_at: dict[str, datetime]
    closed_reason: str | None
    money: dict[str, int]
    currency: str
    plans: list[PlanOut]
    verifications: list[VerificationOut]
    appointments: list[AppointmentOut]
    contact_rating: dict[str, Any] | None
    chosen_variant: str | None = None
    variant_chosen_by: str | None = None
    variant_chosen_at: datetime | None = None


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    event_id: int
    kind: str
    side: str
    source: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    retracted: bool
    body: dict[str, Any]


class Timeline(msgspec.Struct, frozen=True, kw_only=True):
    items: list[TimelineEntry]


class ClaimRecorded(msgspec.Struct, frozen=True, kw_only=True):
    event_id: int
    duplicate: bool
    step: str


class PlanRevised(msgspec.Struct, frozen=True, kw_only=True):
    version: int


class VisitCodeOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    expires_at: datetime
    qr_svg: Annotated[str, msgspec.Meta(description="the code as a QR, an SVG document")]


class RatingOut(msgspec.Struct, frozen=True, kw_only=True):
    referral_id: UUID
    patient_name: str
    called: bool
    stars: int | None
    comment: str
    updated_at: datetime


class RatingList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[RatingOut]


class NobodyCalledRow(msgspec.Struct, frozen=True, kw_only=True):
    referral_id: UUID
    patient_name: str
    patient_phone: str
    step: str
    sent_at: datetime
    said_at: datetime | None


class NobodyCalledList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[NobodyCalledRow]


class SplitOut(msgspec.Struct, frozen=True, kw_only=True):
    verified: int
    unverified: int
    disputed: int


class LostOut(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    count: int
    money: int


class MonthOut(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    inflow: int
    executed: int
    lost: int


class FunnelOut(msgspec.Struct, frozen=True, kw_only=True):
    first: Annotated[date, msgspec.Meta(description="first local day of the period")]
    last: Annotated[date, msgspec.Meta(description="last local day, included")]
    currency: str
    clinics: list[UUID] | None
    in_count: Annotated[int, msgspec.Meta(description="referrals sent, not counting transfers")]
    in_money: int
    transferred_in_count: Annotated[
        int, msgspec.Meta(description="referrals moved here from another clinic in the period")
    ]
    transferred_in_money: Annotated[
        int, msgspec.Meta(description="their estimates as sent (money that came in before)")
    ]
    transferred_out_count: Annotated[
        int, msgspec.Meta(description="referrals moved from here to another clinic")
    ]
    transferred_out_money: Annotated[
        int, msgspec.Meta(description="the money they took: their items not done")
    ]
    accepted_count: int
    accepted_money: int
    accepted_split: SplitOut
    executed_money: int
    executed_this_period: int
    executed_earlier: int
    executed_split: SplitOut
    paid_money: int
    paid_split: Annotated[
        SplitOut,
        msgspec.Meta(
            description="verified: a receipt of the same amount backs it; disputed: the "
            "receipt says another amount; unverified: no receipt"
        ),
    ]
    reserve_count: int
    reserve_money: int
    reserve_by_cohort: dict[str, int]
    lost_count: int
    lost_money: int
    lost_by_reason: list[LostOut]
    months: list[MonthOut]
    reserve_months: Annotated[
        float | None,
        msgspec.Meta(
            description="months the reserve lasts at the pace of the last three complete "
            "months' executed money; null if nothing was executed"
        ),
    ]


class ScorecardOut(msgspec.Struct, frozen=True, kw_only=True):
    clinic_id: UUID
    clinic_name: str
    referrals: int
    claims_judged: int
    claims_confirmed: int
    trust: float | None
    trust_lower_bound: float
    disputed: int
    first_contact_hours_clinic: float | None
    first_contact_hours_patient: float | None
    nobody_called: int
    nobody_called_share: float | None
    ratings: int
    rating_average: float | None
    reached: dict[str, int]
    # Referrals by where the patient said anything: in the app only, by the SMS link's
    # page only, both, or never (none: nothing of it can be patient-verified).
    answered_by: dict[Literal["app", "sms", "both", "none"], int]


class LinksRevoked(msgspec.Struct, frozen=True, kw_only=True):
    revoked_links: int  # links that worked until now


class ScorecardList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ScorecardOut]


class IntegrationOut(msgspec.Struct, frozen=True, kw_only=True):
    """A clinic's CRM or MIS connection, secrets left out."""

    system: Literal["bitrix24", "amocrm", "webhook", "ident"]
    inbound_url: str | None = None  # to paste into the clinic's system; operators only
    settings: dict[str, Any]
    unknown_stages: list[str]
    failed_deliveries: int
    last_sync_at: datetime | None
    updated_at: datetime


class IntegrationConfigured(msgspec.Struct, frozen=True, kw_only=True):
    integration: IntegrationOut
    signing_secret: str | None = None  # webhook: shown only now
    integration_key: str | None = None  # IDENT: shown only now


class ClinicOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    city: str
    district: str | None
    address: str
    phone: str
    timezone: str
    delivery_channel: str
    first_contact_sla_minutes: int | None
    created_at: datetime
    archived_at: datetime | None
    integration: IntegrationOut | None = None  # in the one-clinic answer


class DeliveryOut(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery from a clinic's system, as the inbox keeps it."""

    id: int
    clinic_id: UUID
    system: str
    received_at: datetime
    # received | processed | ignored | unmapped | failed | rejected
    status: str
    error: str | None
    delivery_key: str | None
    attempts: int
    processed_at: datetime | None
    result: dict[str, Any]


class DeliveryDetail(DeliveryOut, frozen=True, kw_only=True):
    headers: dict[str, str]
    body: str


class DeliveryList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DeliveryOut]
    next_cursor: str | None


class ClinicList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ClinicOut]


class StaffCreated(msgspec.Struct, frozen=True, kw_only=True):
    staff_id: UUID
    email: str
    role: Role
    clinic_id: UUID | None
    totp_uri: Annotated[str, msgspec.Meta(description="shown once: the authenticator app's key")]
    totp_qr_svg: str


class ReferralCreated(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    patient_id: UUID
    invite_code: str
    duplicate: bool


class TransferOut(msgspec.Struct, frozen=True, kw_only=True):
    old_referral_id: UUID
    new_referral_id: UUID
    invite_code: str
    moved_items: int
    moved_money: int


class MediaCreated(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID


class DisputeWordOut(msgspec.Struct, frozen=True, kw_only=True):
    """One side's word on the milestone: the clinic's claim or the patient's answer."""

    event_id: int
    kind: str
    source: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    note: str | None
    answer: str | None  # a patient's answer
    amount: int | None  # a payment or a receipt: the sum it states, in minor units


class DisputeReceiptOut(msgspec.Struct, frozen=True, kw_only=True):
    """A fiscal receipt the patient attached (its fiscal ids: fn, fd)."""

    amount: int
    issued_at: datetime
    fn: str
    fd: str


class DisputeReplyOut(msgspec.Struct, frozen=True, kw_only=True):
    """The clinic's words on the dispute."""

    note: str
    actor: str
    recorded_at: datetime


class DisputeOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    referral_id: UUID
    clinic_id: UUID
    clinic_name: str
    patient_name: str
    milestone: str
    item_title: str | None
    state: Literal["disputed", "clinic_silent"]
    clinic_claim: DisputeWordOut | None
    patient_word: DisputeWordOut | None
    receipts: list[DisputeReceiptOut]
    visit_code_used: bool
    since: datetime
    age_days: int
    # The clinic's answers, oldest first.
    clinic_answers: list[DisputeReplyOut] = []


class DisputeList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DisputeOut]
    next_cursor: str | None


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
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


class AuditList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AuditEntry]
    next_cursor: str | None


class PriceEntryOut(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    specialization: str
    title_ru: str
    title_en: str
    price: int
    result_condition: str | None
    course_days: int | None
    updated_at: datetime


class PriceList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[PriceEntryOut]
    next_cursor: str | None


class PricesSaved(msgspec.Struct, frozen=True, kw_only=True):
    saved: int


class ImportedTooth(msgspec.Struct, frozen=True, kw_only=True):
    tooth: int
    phase: str
    condition: str
    variant: str | None = None  # an after-state of one option only


class ImportedPlanOut(msgspec.Struct, frozen=True, kw_only=True):
    items: list[DraftItem]  # the domain's own, as the import made them
    teeth: list[ImportedTooth]
    total: int
    currency: str
    notes: list[str]
    variants: list[VariantText] = []
    explanations: list[DraftExplanation] = []


class ImportOut(msgspec.Struct, frozen=True, kw_only=True):
    referral: ReferralCreated | None  # None on a dry run
    plan: ImportedPlanOut


class CohortOut(msgspec.Struct, frozen=True, kw_only=True):
    cohort: Annotated[str, msgspec.Meta(description="YYYY-MM the referrals were sent in")]
    referrals: int
    in_money: int
    executed: Annotated[
        list[int], msgspec.Meta(description="money executed in the cohort month, the next, …")
    ]
    share: Annotated[
        list[float], msgspec.Meta(description="cumulative executed / in_money, per cent")
    ]


class CohortTable(msgspec.Struct, frozen=True, kw_only=True):
    clinics: list[UUID] | None
    items: list[CohortOut]


class PlanFactOut(msgspec.Struct, frozen=True, kw_only=True):
    month: Annotated[str, msgspec.Meta(description="YYYY-MM, each clinic's local month")]
    expected: Annotated[
        int, msgspec.Meta(description="money the plans' schedules (duration norms) put here")
    ]
    executed: int
    executed_split: SplitOut
    paid: int
    executed_share: Annotated[
        float | None, msgspec.Meta(description="executed / expected, per cent; null if none")
    ]


class PlanFactTable(msgspec.Struct, frozen=True, kw_only=True):
    clinics: list[UUID] | None
    specialization: str | None
    items: list[PlanFactOut]


class SpecializationOut(msgspec.Struct, frozen=True, kw_only=True):
    specialization: Annotated[
        str, msgspec.Meta(description="the cases' main specialization (most estimate money)")
    ]
    referrals: Annotated[
        int, msgspec.Meta(description="sent in the period (a transfer is not a case of its own)")
    ]
    estimate_money: int
    estimate_average: int | None
    accepted: Annotated[int, msgspec.Meta(description="of them, booked or visited so far")]
    plan_money: int
    plan_average: int | None
    accepted_estimate_average: Annotated[
        int | None, msgspec.Meta(description="the average estimate of the same accepted referrals")
    ]
    plan_vs_estimate: Annotated[
        float | None,
        msgspec.Meta(
            description="the accepted referrals' plans against their own estimates − 1, per "
            "cent: the over- or under-run, like with like"
        ),
    ]
    treated: Annotated[int, msgspec.Meta(description="of them, with an item done so far")]
    executed_money: int
    executed_average: int | None
    completed: Annotated[int, msgspec.Meta(description="plans completed in the period")]
    duration_days_average: float | None
    duration_planned_days_average: float | None


class SpecializationTable(msgspec.Struct, frozen=True, kw_only=True):
    clinics: list[UUID] | None
    first: Annotated[str, msgspec.Meta(description="first month, YYYY-MM")]
    last: Annotated[str, msgspec.Meta(description="last month, YYYY-MM")]
    items: list[SpecializationOut]


class PatientPricesOut(msgspec.Struct, frozen=True, kw_only=True):
    show_prices: bool

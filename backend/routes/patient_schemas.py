"""Request and response bodies of the patient app API (/api/v1/auth, /api/v1/me): every
body a patient route reads, in one place (the export's answer is in patient_export.py). A
service command a route passes on as it is (`profile.ProfileChange`) lives with its
service."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.services.profile import NotificationPrefs, QuietHours

Text = Annotated[str, msgspec.Meta(max_length=2000)]


class Money(msgspec.Struct, frozen=True, kw_only=True):
    amount: Annotated[int, msgspec.Meta(description="minor units (kopecks)", examples=[650000])]
    currency: Annotated[str, msgspec.Meta(examples=["RUB"])]
    formatted: Annotated[
        str, msgspec.Meta(description="in the patient's language", examples=["6 500 ₽"])
    ]


# --- auth -----------------------------------------------------------------------------


class PatientSignIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    firebase_id_token: Annotated[str, msgspec.Meta(min_length=10, max_length=8192)]
    invite_code: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class RefreshIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=20, max_length=200)]


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    token_type: str
    expires_in: Annotated[int, msgspec.Meta(description="seconds")]
    refresh_token: str
    refresh_expires_in: Annotated[int, msgspec.Meta(description="seconds")]
    patient_id: UUID


# --- profile --------------------------------------------------------------------------


class Me(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    phone: str
    locale: Literal["ru", "en"]
    timezone: str
    notifications: NotificationPrefs
    quiet_hours: QuietHours


class DeviceIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    token: Annotated[
        str, msgspec.Meta(min_length=20, max_length=4096, description="FCM registration token")
    ]
    platform: Literal["ios", "android", "web"]
    app_version: Annotated[str, msgspec.Meta(max_length=32)] = ""
    locale: Literal["ru", "en"] = "ru"
    kind: Annotated[
        Literal["fcm_token", "fid"],
        msgspec.Meta(description="a registration token, or a Firebase installation id"),
    ] = "fcm_token"


class DeviceOut(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    platform: str
    app_version: str
    locale: str
    active: bool
    last_seen_at: datetime


# --- the plan screen ------------------------------------------------------------------


class ClinicOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    city: str
    address: str
    phone: str


class MilestoneOut(msgspec.Struct, frozen=True, kw_only=True):
    milestone: Annotated[
        str, msgspec.Meta(description="contacted | booked | visited | completed | item:<item_id>")
    ]
    label: str
    state: Annotated[
        str,
        msgspec.Meta(
            description="confirmed | needs_your_answer | under_review | not_confirmed | "
            "waiting_for_clinic | upcoming"
        ),
    ]
    state_label: str


class PlanItemOut(msgspec.Struct, frozen=True, kw_only=True):
    item_id: UUID
    title: str
    tooth: int | None
    specialization: str
    specialization_label: str
    price: Money | None  # null when the clinic does not show prices
    status: Annotated[
        str,
        msgspec.Meta(
            description="FHIR CarePlan activity status: completed | in-progress | not-started | "
            "stopped"
        ),
    ]
    status_label: str
    done_at: datetime | None
    verification: str | None


class StageOut(msgspec.Struct, frozen=True, kw_only=True):
    stage: int
    title: str
    status: str
    status_label: str
    expected_start: datetime | None
    expected_end: datetime | None
    money: Money | None  # null when the clinic does not show prices
    items: list[PlanItemOut]


class ProgressOut(msgspec.Struct, frozen=True, kw_only=True):
    percent_money: Annotated[int, msgspec.Meta(ge=0, le=100)]
    percent_items: Annotated[int, msgspec.Meta(ge=0, le=100)]
    money_done: Money | None  # null when the clinic does not show prices
    money_total: Money | None
    items_done: int
    items_total: int
    current_stage: int | None
    next_step: str
    schedule: Literal["not_started", "on_track", "behind", "done", "stopped"]
    schedule_label: str
    behind_days: int
    expected_finish: datetime | None
    planned_finish: datetime | None


class PlanChange(msgspec.Struct, frozen=True, kw_only=True):
    change: Literal["added", "dropped", "repriced"]
    title: str
    tooth: int | None
    before: Money | None
    after: Money | None


class PlanComparisonOut(msgspec.Struct, frozen=True, kw_only=True):
    estimated_total: Money | None
    actual_total: Money | None
    difference: Money | None
    summary: str
    reason: Annotated[str | None, msgspec.Meta(description="the clinic's reason, its words")]
    changes: list[PlanChange]


class AppointmentOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    starts_at: datetime
    status: Annotated[str, msgspec.Meta(description="FHIR Appointment status")]
    patient_status: Annotated[
        str,
        msgspec.Meta(
            description="FHIR participant status: needs-action | accepted | declined | tentative"
        ),
    ]
    can_respond: bool


class AnswerOption(msgspec.Struct, frozen=True, kw_only=True):
    value: Literal["yes", "no", "unsure"]
    label: str


class WhenOption(msgspec.Struct, frozen=True, kw_only=True):
    value: Literal["today", "yesterday", "earlier"]
    label: str


class WhenAsk(msgspec.Struct, frozen=True, kw_only=True):
    """The follow-up to a "yes": when did the call come? One tap, or a time."""

    text: str
    options: list[WhenOption]
    or_time: Annotated[
        bool, msgspec.Meta(description="a time may be given instead (called_at)")
    ] = True


class QuestionOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    referral_id: UUID
    kind: str
    text: str
    answers: list[AnswerOption]
    asked_at: datetime
    expires_at: datetime
    when: Annotated[
        WhenAsk | None,
        msgspec.Meta(description="for contact questions: ask this after a 'yes' and send it"),
    ] = None


class VariantItemOut(msgspec.Struct, frozen=True, kw_only=True):
    item_id: UUID
    title: str
    tooth: int | None
    stage: int
    specialization_label: str
    price: Money | None  # null when the clinic does not show prices
    common: Annotated[bool, msgspec.Meta(description="part of every option")]


class ExplanationOut(msgspec.Struct, frozen=True, kw_only=True):
    visit: Annotated[int | None, msgspec.Meta(description="at which visit")]
    visit_label: str | None
    stage: int | None
    item_id: UUID | None
    about: Annotated[str | None, msgspec.Meta(description="the item or stage it explains")]
    problem: Annotated[str, msgspec.Meta(description="what was found")]
    solution: Annotated[str, msgspec.Meta(description="what will be done")]
    specialists: list[str]


class VariantOut(msgspec.Struct, frozen=True, kw_only=True):
    variant: Annotated[str | None, msgspec.Meta(description="A, B, C…; null: no options")]
    title: str
    counted: Annotated[
        bool, msgspec.Meta(description="the option the plan counts: chosen, else the first")
    ]
    chosen_by: Annotated[str | None, msgspec.Meta(description="patient | clinic | exchange")]
    status_label: str | None
    pros: list[str]
    cons: list[str]
    total: Money | None  # null when the clinic does not show prices
    course_days: Annotated[int, msgspec.Meta(description="by the duration norms")]
    course_label: str
    items: list[VariantItemOut]
    explanations: list[ExplanationOut]
    after_chart: "TeethOut"
    chart_svg_url: str


class ReferralOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    step: str
    step_label: str
    closed_reason: str | None
    sent_at: datetime
    clinic: ClinicOut
    progress: ProgressOut
    stages: list[StageOut]
    plan_comparison: PlanComparisonOut
    appointments: list[AppointmentOut]
    questions: list[QuestionOut]
    milestones: list[MilestoneOut]
    # Seed 004: every option side by side, the one that counts, and whether to choose.
    variants: list[VariantOut] = []
    chosen_variant: str | None = None
    can_choose_variant: bool = False
    prices_shown: bool = True
    plan_pdf_url: str | None = None


class ChooseVariantIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    variant: Annotated[str, msgspec.Meta(pattern="^[A-Z]$", examples=["B"])]


class ReferralSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    clinic_name: str
    step: str
    step_label: str
    sent_at: datetime
    percent_money: int
    percent_items: int
    money_total: Money | None  # null when the clinic does not show prices
    next_step: str
    open_questions: int


class ReferralPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ReferralSummary]
    next_cursor: Annotated[str | None, msgspec.Meta(description="pass as ?cursor= for more")]


class ChangeOut(msgspec.Struct, frozen=True, kw_only=True):
    kind: Annotated[
        Literal["referral", "question", "appointment", "picture"],
        msgspec.Meta(description="what to fetch again: a referral's screen, a question, …"),
    ]
    id: UUID
    referral_id: UUID
    version: Annotated[int, msgspec.Meta(description="the change number it last changed at")]


class ChangesOut(msgspec.Struct, frozen=True, kw_only=True):
    changes: list[ChangeOut]
    cursor: Annotated[int, msgspec.Meta(description="pass as ?since= next time")]
    more: Annotated[bool, msgspec.Meta(description="another page is waiting: ask again now")]


class QuestionPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[QuestionOut]
    next_cursor: str | None


# --- teeth ----------------------------------------------------------------------------


class ToothOut(msgspec.Struct, frozen=True, kw_only=True):
    tooth: int
    condition: str
    label: str
    code: str
    in_plan: bool
    done: bool
    partly_done: bool


class TeethOut(msgspec.Struct, frozen=True, kw_only=True):
    phase: Literal["before", "after", "now"]
    title: str
    teeth: list[ToothOut]
    legend: dict[str, str]


# --- media ----------------------------------------------------------------------------


class PictureSizeOut(msgspec.Struct, frozen=True, kw_only=True):
    """One size of a picture: its pixels and its links (WebP, with a JPEG fallback)."""

    width: Annotated[int | None, msgspec.Meta(description="null: a picture stored before sizes")]
    height: int | None
    url: Annotated[str, msgspec.Meta(description="signed, short-lived; no token needed")]
    content_type: str
    fallback_url: Annotated[
        str | None, msgspec.Meta(description="the same size as JPEG, for clients without WebP")
    ] = None
    fallback_content_type: str | None = None


class PictureSizesOut(msgspec.Struct, frozen=True, kw_only=True):
    thumb: Annotated[PictureSizeOut, msgspec.Meta(description="at most 320 px on its long side")]
    screen: Annotated[PictureSizeOut, msgspec.Meta(description="at most 1600 px on its long side")]
    original: Annotated[PictureSizeOut, msgspec.Meta(description="as uploaded (cleaned)")]


class MediaOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    kind: Literal["xray", "photo", "scan"]
    phase: Literal["before", "after", "progress"]
    tooth: int | None
    caption: str
    content_type: str
    url: Annotated[
        str, msgspec.Meta(description="the original; signed, short-lived; no token needed")
    ]
    url_expires_at: datetime
    width: Annotated[int | None, msgspec.Meta(description="the original's pixels")] = None
    height: int | None = None
    sizes: Annotated[
        PictureSizesOut | None,
        msgspec.Meta(description="each size's pixels and links: show the thumb in lists"),
    ] = None


class MediaPairOut(msgspec.Struct, frozen=True, kw_only=True):
    """Before and after of one tooth (or the whole mouth: tooth null), side by side."""

    tooth: int | None
    kind: str
    label: str
    before: MediaOut | None
    after: MediaOut | None


class MediaList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[MediaOut]
    by_phase: Annotated[
        dict[str, list[MediaOut]], msgspec.Meta(description="before, progress, after")
    ] = {}
    side_by_side: list[MediaPairOut] = []


# --- what the patient says ------------------------------------------------------------


CalledOn = Annotated[
    Literal["today", "yesterday", "earlier"] | None,
    msgspec.Meta(description="when did they call? (the patient's day); or give called_at instead"),
]
CalledAt = Annotated[
    datetime | None,
    msgspec.Meta(description="when did they call, to the minute, with the offset (not both)"),
]


class AnswerIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    answer: Literal["yes", "no", "unsure"]
    note: Text | None = None
    # Only with a "yes" to a contact question (a question with `when`).
    called_on: CalledOn = None
    called_at: CalledAt = None


class ContactRatingIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    called: bool
    stars: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None
    comment: Text = ""
    # Only with called: true.
    called_on: CalledOn = None
    called_at: CalledAt = None


class AppointmentResponseIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    response: Literal["confirm", "decline", "reschedule"]
    note: Text | None = None


class VisitCodeIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=4, max_length=16)]


class ReportIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["contacted", "booked", "visited", "stopped"]
    occurred_at: datetime | None = None
    appointment_at: datetime | None = None
    note: Text | None = None


class ErasureIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    confirm: Annotated[
        str, msgspec.Meta(max_length=32, description='exactly "erase"; anything else is refused')
    ]


class ReceiptIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    qr: Annotated[
        str,
        msgspec.Meta(
            min_length=10, max_length=512, description="the text of the receipt's QR code"
        ),
    ]


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """A statement is in the ledger (or was already: `duplicate`)."""

    event_id: int
    duplicate: bool
    step: str
    step_label: str


class ReceiptOut(msgspec.Struct, frozen=True, kw_only=True):
    event_id: int
    amount: Money
    issued_at: datetime
    match: Annotated[
        str, msgspec.Meta(description="matches | amount_differs | no_payment_reported")
    ]
    reported_amount: Money | None

"""The bodies of a patient's data export and erasure, and how stored rows become them.

The export is everything held about the patient, as stored (amounts in minor units,
times in UTC), not as the app shows it: it is the answer to "what do you keep about me".
"""

from datetime import datetime, time
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import msgspec

from backend.services.privacy import Holdings
from backend.services.profile import NotificationPrefs, prefs_from_json
from backend.services.sms import SmsMessageRow, WebSessionRow

T = TypeVar("T", bound=msgspec.Struct)


class ExportProfile(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    phone: str
    locale: str
    timezone: str
    signed_in_with_firebase: bool
    created_at: datetime


class ExportConsents(msgspec.Struct, frozen=True, kw_only=True):
    """What the patient agreed to receive, and when not to be disturbed."""

    notifications: NotificationPrefs
    quiet_hours_start: time | None
    quiet_hours_end: time | None


class ExportReferral(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    clinic_id: UUID
    clinic_name: str
    invite_code: str
    sent_at: datetime
    step: str
    closed_reason: str | None
    transferred_from: UUID | None
    currency: str
    estimated_amount: int
    planned_amount: int
    executed_amount: int
    paid_amount: int


class ExportPlanItem(msgspec.Struct, frozen=True, kw_only=True):
    item_id: UUID
    stage: int
    variant: str | None
    specialization: str
    code: str
    title_ru: str
    title_en: str
    tooth: int | None
    price: int


class ExportTooth(msgspec.Struct, frozen=True, kw_only=True):
    tooth: int
    phase: str
    condition: str
    note: str
    variant: str | None = None  # an after-state of this variant only


class ExportVariant(msgspec.Struct, frozen=True, kw_only=True):
    """One way the plan offers (A, B, C…): its name, pros and cons, as written."""

    variant: str
    title_ru: str
    title_en: str
    pros_ru: str
    pros_en: str
    cons_ru: str
    cons_en: str


class ExportExplanation(msgspec.Struct, frozen=True, kw_only=True):
    """Why a stage or an item is in the plan: at which visit, what was found, what will
    be done, by which specialists."""

    variant: str | None
    stage: int | None
    item_id: UUID | None
    visit: int | None
    problem_ru: str
    problem_en: str
    solution_ru: str
    solution_en: str
    specialists: list[str]


class ExportVariantChoice(msgspec.Struct, frozen=True, kw_only=True):
    """A variant chosen, when, and who recorded it (the patient; or a clinic or the
    exchange, on the patient's word)."""

    referral_id: UUID
    variant: str
    plan_version: int
    recorded_by: str  # patient | clinic | exchange
    source: str
    chosen_at: datetime
    recorded_at: datetime


class ExportCallNote(msgspec.Struct, frozen=True, kw_only=True):
    """A line of a clinic's call history about the patient: the outcome, the
    coordinator's note, a call-back. Which staff member wrote it is not given (that is
    the staff member's data); the clinic is."""

    referral_id: UUID
    clinic_id: UUID
    outcome: str
    note: str
    callback_at: datetime | None
    callback_done_at: datetime | None
    created_at: datetime


class ExportPlan(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    referral_id: UUID
    version: int
    origin: str
    currency: str
    chosen_variant: str | None
    reason: str | None
    created_at: datetime
    items: list[ExportPlanItem]
    teeth: list[ExportTooth]
    variants: list[ExportVariant] = []
    explanations: list[ExportExplanation] = []


class ExportAppointment(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    referral_id: UUID
    starts_at: datetime
    status: str
    patient_status: str


class ExportAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """A question we asked, and the one-tap answer if given."""

    question_id: UUID
    referral_id: UUID
    kind: str
    milestone: str
    status: str
    asked_at: datetime
    answered_at: datetime | None
    answer: str | None


class ExportStatement(msgspec.Struct, frozen=True, kw_only=True):
    """One of the patient's own statements in the ledger, with any note they wrote."""

    event_id: int
    referral_id: UUID
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    body: dict[str, Any]


class ExportRating(msgspec.Struct, frozen=True, kw_only=True):
    referral_id: UUID
    called: bool
    stars: int | None
    comment: str
    updated_at: datetime


class ExportDevice(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    kind: str
    platform: str
    app_version: str
    locale: str
    active: bool
    created_at: datetime
    last_seen_at: datetime
    deactivated_at: datetime | None


class ExportSession(msgspec.Struct, frozen=True, kw_only=True):
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class ExportMedia(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    referral_id: UUID
    kind: str
    phase: str
    tooth: int | None
    caption: str
    content_type: str
    created_at: datetime


class ExportAccess(msgspec.Struct, frozen=True, kw_only=True):
    """A staff view of the patient's data, from the audit log (the role, not the person)."""

    at: datetime
    role: str
    action: str


class ExportSms(msgspec.Struct, frozen=True, kw_only=True):
    """A text message decided for the patient (its text is not kept: it held a link)."""

    kind: str
    referral_id: UUID | None
    status: str
    reason: str | None
    planned_at: datetime
    sent_at: datetime | None
    parts: int


class ExportWebSession(ExportSession, frozen=True, kw_only=True):
    """A browser where the patient proved the phone with an SMS code."""


class PatientExport(msgspec.Struct, frozen=True, kw_only=True):
    exported_at: datetime
    profile: ExportProfile
    consents: ExportConsents
    referrals: list[ExportReferral]
    plans: list[ExportPlan]
    appointments: list[ExportAppointment]
    answers: list[ExportAnswer]
    statements: list[ExportStatement]
    contact_ratings: list[ExportRating]
    devices: list[ExportDevice]
    sessions: list[ExportSession]
    media: list[ExportMedia]
    staff_access: list[ExportAccess]
    text_messages: list[ExportSms] = []
    web_sessions: list[ExportWebSession] = []
    variant_choices: list[ExportVariantChoice] = []
    call_notes: list[ExportCallNote] = []


class ErasureOut(msgspec.Struct, frozen=True, kw_only=True):
    erased_at: datetime
    status: Literal["erased"]
    message: Annotated[str, msgspec.Meta(description="in the patient's language")]


def _pick(cls: type[T], row: dict[str, Any], **renamed: Any) -> T:
    fields = {f: row[f] for f in cls.__struct_fields__ if f in row and f not in renamed}
    return cls(**fields, **renamed)


def export(
    found: Holdings,
    now: datetime,
    *,
    text_messages: list[SmsMessageRow] | None = None,
    web_sessions: list[WebSessionRow] | None = None,
) -> PatientExport:
    p = found.patient
    items: dict[UUID, list[ExportPlanItem]] = {}
    for row in found.plan_items:
        items.setdefault(row["plan"], []).append(_pick(ExportPlanItem, row))
    teeth: dict[UUID, list[ExportTooth]] = {}
    for row in found.teeth:
        teeth.setdefault(row["plan"], []).append(_pick(ExportTooth, row))
    variants: dict[UUID, list[ExportVariant]] = {}
    for row in found.variants:
        variants.setdefault(row["plan"], []).append(_pick(ExportVariant, row))
    explanations: dict[UUID, list[ExportExplanation]] = {}
    for row in found.explanations:
        explanations.setdefault(row["plan"], []).append(
            _pick(
                ExportExplanation,
                row,
                specialists=[s for s in (row["specialists"] or "").split(",") if s],
            )
        )
    return PatientExport(
        exported_at=now,
        profile=_pick(ExportProfile, p, signed_in_with_firebase=p["firebase_uid"] is not None),
        consents=ExportConsents(
            notifications=prefs_from_json(p["notification_prefs"]),
            quiet_hours_start=p["quiet_hours_start"],
            quiet_hours_end=p["quiet_hours_end"],
        ),
        referrals=[
            _pick(
                ExportReferral,
                r,
                clinic_id=r["clinic"],
                clinic_name=found.clinics[r["clinic"]]["name"],
            )
            for r in found.referrals
        ],
        plans=[
            _pick(
                ExportPlan,
                row,
                referral_id=row["referral"],
                items=items.get(row["id"], []),
                teeth=teeth.get(row["id"], []),
                variants=variants.get(row["id"], []),
                explanations=explanations.get(row["id"], []),
            )
            for row in found.plans
        ],
        appointments=[
            _pick(ExportAppointment, a, referral_id=a["referral"]) for a in found.appointments
        ],
        answers=[
            _pick(ExportAnswer, q, question_id=q["id"], referral_id=q["referral"])
            for q in found.questions
        ],
        statements=[
            _pick(
                ExportStatement,
                e,
                event_id=e["id"],
                referral_id=e["referral"],
                body=e["payload"],
            )
            for e in found.statements
        ],
        contact_ratings=[_pick(ExportRating, r, referral_id=r["referral"]) for r in found.ratings],
        devices=[_pick(ExportDevice, d) for d in found.devices],
        sessions=[_pick(ExportSession, s) for s in found.sessions],
        media=[
            _pick(ExportMedia, m, referral_id=m["referral"])
            for m in found.media
            if m["archived_at"] is None
        ],
        staff_access=[_pick(ExportAccess, a, role=a["actor_role"]) for a in found.accesses],
        text_messages=[
            msgspec.convert({**msgspec.structs.asdict(m), "referral_id": m.referral}, ExportSms)
            for m in text_messages or []
        ],
        web_sessions=[
            msgspec.convert(w, ExportWebSession, from_attributes=True) for w in web_sessions or []
        ],
        variant_choices=[
            ExportVariantChoice(
                referral_id=e["referral"],
                variant=e["payload"]["variant"],
                plan_version=e["payload"].get("version", 0),
                recorded_by=e["side"],
                source=e["source"],
                chosen_at=e["occurred_at"],
                recorded_at=e["recorded_at"],
            )
            for e in found.variant_choices
        ],
        call_notes=[
            _pick(ExportCallNote, n, referral_id=n["referral"], clinic_id=n["clinic"])
            for n in found.call_notes
        ],
    )

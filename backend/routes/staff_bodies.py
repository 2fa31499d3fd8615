"""Request bodies of the staff API, clinic and exchange alike: every body a staff route
reads, in one place (the answers are in staff_schemas.py). Service commands a route passes
on as they are (Claim, ClinicIn, OutcomeIn, IntegrationIn) live with their services."""

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.domain.norms import Specialization
from backend.domain.plan_import import DEFAULT_MIN_PROBABILITY, Analysis
from backend.domain.roles import Role
from backend.domain.staff_alerts import AlertKind
from backend.routes.docs import SAYS_SOMETHING
from backend.services.plan_import import MAX_LINES, PriceEntryIn
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn
from backend.services.staff import MIN_PASSWORD_LENGTH

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
ClockTime = Annotated[str, msgspec.Meta(pattern=HHMM, examples=["09:00"])]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


# --- signing in --------------------------------------------------------------------------


class StaffSignIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=200)]
    totp: Annotated[str, msgspec.Meta(max_length=10, description="authenticator app code")]


# --- the clinic's referrals --------------------------------------------------------------


class PlanRevisionIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=1000,
            pattern=SAYS_SOMETHING,
            description="shown to the patient",
        ),
    ]
    items: Annotated[list[PlanItemIn], msgspec.Meta(min_length=1, max_length=200)]
    chosen_variant: str | None = None


class AnswerIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class PatientPricesIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    show_prices: Annotated[bool, msgspec.Meta(description="patients see prices and totals")]


# --- the exchange's referrals ------------------------------------------------------------


class NewReferralIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    patient: PatientIn
    clinic_id: UUID
    plan: PlanIn


class ImportIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    patient: PatientIn
    clinic_id: UUID
    analysis: Analysis
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] = "RUB"
    min_probability: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = DEFAULT_MIN_PROBABILITY


class TransferIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    clinic_id: UUID
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=SAYS_SOMETHING)]


class ResolutionIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    outcome: Literal["happened", "did_not_happen"]
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class PricesIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    entries: Annotated[list[PriceEntryIn], msgspec.Meta(min_length=1, max_length=MAX_LINES)]


# --- staff accounts and their alerts -----------------------------------------------------


class StaffIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254, pattern="@")]
    role: Role
    password: Annotated[str, msgspec.Meta(min_length=12, max_length=200)]
    clinic_id: UUID | None = None
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class PasswordIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(min_length=MIN_PASSWORD_LENGTH, max_length=200)]


class RoleIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Role
    clinic_id: UUID | None = None


class AlertPrefsIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kinds: list[AlertKind] | None = None  # None: the role's defaults
    email: bool = True
    crm_task: bool = True
    digest: bool = False
    crm_user_id: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    lang: Literal["ru", "en"] = "ru"


# --- settings ----------------------------------------------------------------------------


class SettingsChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Only the settings given change; null puts one back to the layer below."""

    opens: ClockTime | Unset | None = UNSET
    closes: ClockTime | Unset | None = UNSET
    weekdays: list[Annotated[int, msgspec.Meta(ge=0, le=6)]] | Unset | None = UNSET
    holidays: Annotated[list[date], msgspec.Meta(max_length=120)] | Unset | None = UNSET
    first_contact_sla_minutes: int | Unset | None = UNSET
    answer_window_hours: int | Unset | None = UNSET
    visit_grace_hours: int | Unset | None = UNSET
    sender_name: str | Unset | None = UNSET


class NormIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    specialization: Specialization
    chair_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None
    course_days: Annotated[int, msgspec.Meta(ge=1, le=1095)] | None = None


class NormsIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Both numbers: this scope's own norm; neither: back to the layer below."""

    items: Annotated[list[NormIn], msgspec.Meta(min_length=1, max_length=20)]

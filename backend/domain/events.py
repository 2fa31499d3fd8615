"""Ledger events: what happened, who said so, when it happened and when we heard.

Each event body is a tagged msgspec Struct; the tag (`kind`) is what the API, the
CRM adapters and the MIS webhooks all speak, so a claim looks the same whichever
door it came through.
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

import msgspec


class Side(StrEnum):
    clinic = "clinic"
    patient = "patient"
    exchange = "exchange"
    system = "system"


class Source(StrEnum):
    """Where a statement came from. Each source has its own idempotency space."""

    exchange = "exchange"
    clinic_panel = "clinic_panel"
    bitrix24 = "bitrix24"
    amocrm = "amocrm"
    mis_webhook = "mis_webhook"
    ident = "ident"
    patient_app = "patient_app"
    # The patient on the web page an SMS link opens (patient_web/), without the app.
    patient_sms = "patient_sms"
    system = "system"
    demo = "demo"

    @property
    def side(self) -> Side:
        return _SIDE_OF_SOURCE[self]


_SIDE_OF_SOURCE = {
    Source.exchange: Side.exchange,
    Source.clinic_panel: Side.clinic,
    Source.bitrix24: Side.clinic,
    Source.amocrm: Side.clinic,
    Source.mis_webhook: Side.clinic,
    Source.ident: Side.clinic,
    Source.patient_app: Side.patient,
    Source.patient_sms: Side.patient,
    Source.system: Side.system,
    # Demo data speaks for whichever side its event kind belongs to; see side_of().
    Source.demo: Side.system,
}


class Body(msgspec.Struct, tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    """Base of every event body; the subclass's tag is the event kind."""


# --- clinic claims --------------------------------------------------------------------
# The same kinds arrive from the panel, the CRMs and the MIS webhooks.


class Received(Body, tag="received"):
    """The clinic has the referral (opened in the panel, or its CRM acknowledged it)."""


ContactOutcome = Literal["booked", "declined", "unreachable"]


class Contacted(Body, tag="contacted"):
    """The clinic called the patient; the outcome is exactly one of three."""

    outcome: ContactOutcome
    appointment_at: datetime | None = None
    # Filled in by the service for a booking, so that later answers can name it.
    appointment_id: UUID | None = None
    reason: str | None = None


class AppointmentCancelled(Body, tag="appointment_cancelled"):
    """The booked appointment is off (not a no-show: nobody was expected any more)."""

    reason: str | None = None


class Visited(Body, tag="visited"):
    """The patient came: the consultation happened."""


class NoShow(Body, tag="no_show"):
    """The patient did not come to the booked appointment."""


class ItemDone(Body, tag="item_done"):
    item_id: UUID


class Payment(Body, tag="payment"):
    amount: int  # minor units, in the referral's currency


class Completed(Body, tag="completed"):
    """The plan is done: no more money will come from it in this plan."""


class Closed(Body, tag="closed"):
    reason: str


ClinicClaim = (
    Received
    | Contacted
    | AppointmentCancelled
    | Visited
    | NoShow
    | ItemDone
    | Payment
    | Completed
    | Closed
)


# --- plans ----------------------------------------------------------------------------


class PlanLine(msgspec.Struct, frozen=True, kw_only=True):
    """The money-relevant part of one plan item, as recorded in the ledger."""

    item_id: UUID  # stable across plan versions: a carried-over item keeps its id
    price: int
    specialization: str
    stage: int = 1
    variant: str | None = None  # None: part of every variant
    course_days: int | None = None  # None: take the duration norm


PlanOrigin = Literal["estimated", "actual"]


class PlanSet(Body, tag="plan_set"):
    """A plan version: the exchange's estimate, or the clinic's actual plan."""

    plan_id: UUID
    version: int
    origin: PlanOrigin
    currency: str
    lines: list[PlanLine]
    chosen_variant: str | None = None
    reason: str | None = None


# --- exchange -------------------------------------------------------------------------


class Sent(Body, tag="sent"):
    """The exchange sent the referral to the clinic."""

    clinic_id: UUID
    transferred_from: UUID | None = None


ResolutionOutcome = Literal["happened", "did_not_happen"]


class Resolution(Body, tag="resolution"):
    """The exchange's decision on a disputed or clinic-silent milestone."""

    milestone: str
    outcome: ResolutionOutcome
    note: str


class Correction(Body, tag="correction"):
    """Voids an earlier event (a mistaken claim). The only way a step moves back."""

    retracts: int  # ledger id of the event taken back
    reason: str


class Reopened(Body, tag="reopened"):
    reason: str


class DisputeAnswer(Body, tag="dispute_answer"):
    """The clinic's own words on a milestone in dispute: evidence for the exchange's
    ruling, never a claim (it moves nothing)."""

    milestone: str
    note: str


class Transferred(Body, tag="transferred"):
    """The patient moved mid-plan; the remaining items continue in another referral."""

    to_referral_id: UUID
    to_clinic_id: UUID


# --- patient --------------------------------------------------------------------------

Answer = Literal["yes", "no", "unsure"]
# "When did they call?" (backend.domain.contact_time): the patient's words, and the span
# of time they mean in the patient's zone, worked out when the answer was recorded.
CalledOn = Literal["today", "yesterday", "earlier", "at"]


class PatientAnswer(Body, tag="patient_answer"):
    """The patient's one-tap answer to a verification question."""

    question_id: UUID
    milestone: str
    answer: Answer
    appointment_at: datetime | None = None  # for booking questions: the time asked about
    note: str | None = None
    called_on: CalledOn | None = None  # for contact questions: when the call came
    called_after: datetime | None = None
    called_before: datetime | None = None


ReportAbout = Literal["contacted", "booked", "visited", "stopped"]


class PatientReport(Body, tag="patient_report"):
    """The patient tells on their own what happened."""

    about: ReportAbout
    appointment_at: datetime | None = None
    note: str | None = None


AppointmentReply = Literal["confirm", "decline", "reschedule"]


class AppointmentResponse(Body, tag="appointment_response"):
    appointment_id: UUID
    response: AppointmentReply
    note: str | None = None


class VisitCosigned(Body, tag="visit_cosigned"):
    """The patient entered the one-time code shown at reception: both sides sign."""

    code_id: UUID


class ContactRating(Body, tag="contact_rating"):
    called: bool
    stars: int | None = None
    comment: str | None = None
    called_on: CalledOn | None = None  # when the call came, as with PatientAnswer
    called_after: datetime | None = None
    called_before: datetime | None = None


class ReceiptAttached(Body, tag="receipt"):
    """A fiscal receipt's QR as payment evidence (date, sum, fiscal ids)."""

    amount: int
    issued_at: datetime
    fn: str
    fd: str
    fp: str


class VariantChosen(Body, tag="variant_chosen"):
    """The patient chose one of the plan's variants (A, B, C…), seeing plan `version`."""

    variant: str
    version: int


PatientStatement = (
    VariantChosen
    | PatientAnswer
    | PatientReport
    | AppointmentResponse
    | VisitCosigned
    | ContactRating
    | ReceiptAttached
)

EventBody = (
    ClinicClaim
    | PlanSet
    | Sent
    | Resolution
    | Correction
    | Reopened
    | Transferred
    | DisputeAnswer
    | PatientStatement
)

CLINIC_CLAIM_KINDS = frozenset(t.__struct_config__.tag for t in ClinicClaim.__args__)
PATIENT_KINDS = frozenset(t.__struct_config__.tag for t in PatientStatement.__args__)


def kind_of(body: Body) -> str:
    return type(body).__struct_config__.tag  # type: ignore[return-value]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One immutable line of the ledger."""

    id: int
    referral_id: UUID
    source: Source
    side: Side
    actor: str  # who, in the source's terms: staff:<id>, patient:<id>, bitrix24:<portal>
    occurred_at: datetime
    recorded_at: datetime
    idempotency_key: str
    body: EventBody

    @property
    def kind(self) -> str:
        return kind_of(self.body)


def side_of(source: Source, body: Body) -> Side:
    """The side a statement speaks for; demo data speaks for whoever would have said it."""
    if source is not Source.demo:
        return source.side
    kind = kind_of(body)
    if kind in CLINIC_CLAIM_KINDS:
        return Side.clinic
    if kind in PATIENT_KINDS:
        return Side.patient
    if kind == "plan_set" and getattr(body, "origin", None) == "actual":
        return Side.clinic
    return Side.exchange


body_decoder = msgspec.json.Decoder(EventBody)
body_encoder = msgspec.json.Encoder()

"""Who may say what (backend.domain.authority), rule by rule, without a database.

Each rule is checked from both sides: the statement it refuses, and the nearest one it
lets through, so a rule that refuses everything fails here as surely as one that refuses
nothing.
"""

from datetime import timedelta
from uuid import UUID

import pytest

from backend.domain.authority import CLOCK_SKEW, KINDS_OF_SIDE, RefusalKind, check_statement
from backend.domain.events import (
    CLINIC_CLAIM_KINDS,
    PATIENT_KINDS,
    AppointmentResponse,
    Closed,
    Completed,
    Contacted,
    ContactRating,
    Correction,
    ItemDone,
    Payment,
    PlanLine,
    PlanSet,
    Received,
    Reopened,
    Resolution,
    Sent,
    Side,
    Source,
    Transferred,
    VariantChosen,
    Visited,
)
from backend.domain.funnel import fold_referral
from tests.unit.ledger_builder import CLINIC, Ledger, at

ITEM, OTHER = UUID(int=1), UUID(int=2)
NOW = at(10)


def plan(version: int = 1, origin: str = "estimated", lines=None) -> PlanSet:
    return PlanSet(
        plan_id=UUID(int=100 + version),
        version=version,
        origin=origin,
        currency="RUB",
        lines=lines or [PlanLine(item_id=ITEM, price=10_000_00, specialization="therapy")],
    )


def sent() -> Ledger:
    ledger = Ledger()
    ledger.add(plan(), hours=0, source=Source.exchange)
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    return ledger


def check(side: Side, body, ledger: Ledger | None = None, *, hours: float = 9, **kw):
    fold = fold_referral((ledger or sent()).events)
    return check_statement(side, body, fold, occurred_at=at(hours), now=NOW, **kw)


def refused(side: Side, body, ledger: Ledger | None = None, **kw) -> RefusalKind | None:
    refusal = check(side, body, ledger, **kw)
    return refusal.kind if refusal else None


# --- each side its own kinds -------------------------------------------------------------


def test_patients_never_set_clinic_statuses_and_clinics_never_answer_for_patients():
    assert not (KINDS_OF_SIDE[Side.patient] & CLINIC_CLAIM_KINDS)
    assert not (KINDS_OF_SIDE[Side.clinic] & PATIENT_KINDS)
    for body in (Visited(), Payment(amount=100), Completed(), Received()):
        assert refused(Side.patient, body) is RefusalKind.forbidden
        assert refused(Side.clinic, body) is None
    rating = ContactRating(called=True, stars=5)
    assert refused(Side.clinic, rating) is RefusalKind.forbidden
    assert refused(Side.patient, rating) is None


def test_the_exchange_sends_rules_and_reopens_but_does_not_claim_a_visit():
    assert refused(Side.exchange, Visited()) is RefusalKind.forbidden
    assert refused(Side.exchange, Sent(clinic_id=CLINIC)) is None
    closed = sent()
    closed.add(Closed(reason="no answer"), hours=1)
    assert refused(Side.exchange, Reopened(reason="patient called back"), closed) is None


def test_the_system_side_may_state_any_kind():
    for body in (Visited(), ContactRating(called=False), Sent(clinic_id=CLINIC)):
        assert refused(Side.system, body) is None


# --- time ----------------------------------------------------------------------------------


def test_a_few_minutes_ahead_is_a_clock_further_is_refused():
    ahead = (CLOCK_SKEW - timedelta(seconds=1)) / timedelta(hours=1)
    assert refused(Side.clinic, Visited(), hours=10 + ahead) is None
    far = (CLOCK_SKEW + timedelta(seconds=1)) / timedelta(hours=1)
    assert refused(Side.clinic, Visited(), hours=10 + far) is RefusalKind.invalid


# --- what a statement must carry -------------------------------------------------------------


def test_a_booking_needs_its_time():
    assert refused(Side.clinic, Contacted(outcome="booked")) is RefusalKind.invalid
    assert refused(Side.clinic, Contacted(outcome="booked", appointment_at=at(30))) is None
    assert refused(Side.clinic, Contacted(outcome="unreachable")) is None


def test_a_procedure_must_be_on_some_version_of_the_plan():
    assert refused(Side.clinic, ItemDone(item_id=OTHER)) is RefusalKind.invalid
    assert refused(Side.clinic, ItemDone(item_id=ITEM)) is None
    revised = sent()
    revised.add(plan(2, "actual", [PlanLine(item_id=OTHER, price=1, specialization="x")]), hours=1)
    # ITEM left the plan in version 2 but stays known: its claim is still about this referral.
    assert refused(Side.clinic, ItemDone(item_id=ITEM), revised) is None


@pytest.mark.parametrize("amount", [0, -1])
def test_a_payment_is_a_positive_amount(amount):
    assert refused(Side.clinic, Payment(amount=amount)) is RefusalKind.invalid
    assert refused(Side.clinic, Payment(amount=1)) is None


def test_a_clinic_sets_the_actual_plan_never_the_estimate_and_never_negative_prices():
    assert refused(Side.clinic, plan(2, "estimated")) is RefusalKind.forbidden
    assert refused(Side.clinic, plan(2, "actual")) is None
    negative = [PlanLine(item_id=ITEM, price=-1, specialization="therapy")]
    assert refused(Side.clinic, plan(2, "actual", negative)) is RefusalKind.invalid
    assert refused(Side.exchange, plan(2, "estimated")) is None


@pytest.mark.parametrize(("stars", "kind"), [(0, RefusalKind.invalid), (6, RefusalKind.invalid)])
def test_stars_are_one_to_five(stars, kind):
    assert refused(Side.patient, ContactRating(called=True, stars=stars)) is kind
    assert refused(Side.patient, ContactRating(called=True, stars=1)) is None
    assert refused(Side.patient, ContactRating(called=True, stars=5)) is None


# --- what fits the referral as it stands -----------------------------------------------------


def variants() -> Ledger:
    ledger = Ledger()
    lines = [
        PlanLine(item_id=ITEM, price=1, specialization="implantology", variant="A"),
        PlanLine(item_id=OTHER, price=2, specialization="orthopedics", variant="B"),
    ]
    ledger.add(plan(1, lines=lines), hours=0, source=Source.exchange)
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    return ledger


def test_a_patient_chooses_only_an_offered_variant_of_an_open_referral():
    assert refused(Side.patient, VariantChosen(variant="B", version=1), variants()) is None
    refusal = check(Side.patient, VariantChosen(variant="C", version=1), variants())
    assert refusal.kind is RefusalKind.invalid and "A, B" in refusal.message
    done = variants()
    done.add(Completed(), hours=2)
    chosen = VariantChosen(variant="B", version=1)
    assert refused(Side.patient, chosen, done) is RefusalKind.conflict


def test_a_clinic_corrects_only_its_own_claims_and_only_in_this_referral():
    correction = Correction(retracts=5, reason="mistake")
    assert refused(Side.clinic, correction, retracts_side=None) is RefusalKind.invalid
    assert refused(Side.clinic, correction, retracts_side=Side.clinic) is None
    assert refused(Side.clinic, correction, retracts_side=Side.patient) is RefusalKind.forbidden
    assert refused(Side.exchange, correction, retracts_side=Side.clinic) is None


def test_a_ruling_names_a_milestone_the_referral_has():
    good = Resolution(milestone="visited", outcome="happened", note="receipt seen")
    assert refused(Side.exchange, good) is None
    bad = Resolution(milestone="landed_on_mars", outcome="happened", note="?")
    assert refused(Side.exchange, bad) is RefusalKind.invalid


@pytest.mark.parametrize("end", [Closed(reason="no answer"), Completed()])
def test_only_an_ended_referral_can_be_reopened(end):
    assert refused(Side.exchange, Reopened(reason="again")) is RefusalKind.conflict
    ended = sent()
    ended.add(end, hours=1)
    assert refused(Side.exchange, Reopened(reason="again"), ended) is None


def test_a_completed_referral_cannot_be_transferred_a_closed_one_can():
    move = Transferred(to_referral_id=UUID(int=9), to_clinic_id=UUID(int=8))
    assert refused(Side.exchange, move) is None
    completed = sent()
    completed.add(Completed(), hours=1)
    assert refused(Side.exchange, move, completed) is RefusalKind.conflict
    closed = sent()
    closed.add(Closed(reason="moved away"), hours=1)
    assert refused(Side.exchange, move, closed) is None


def test_an_answer_about_an_appointment_is_the_patients():
    reply = AppointmentResponse(appointment_id=UUID(int=3), response="confirm")
    assert refused(Side.patient, reply) is None
    assert refused(Side.clinic, reply) is RefusalKind.forbidden

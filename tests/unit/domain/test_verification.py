"""Verification: each row of the table in backend/domain/verification.py, and the corner
cases between them."""

from datetime import timedelta
from uuid import UUID

import pytest

from backend.domain.events import (
    AppointmentResponse,
    Contacted,
    ContactRating,
    Correction,
    PatientAnswer,
    PatientReport,
    Resolution,
    Sent,
    Source,
    VisitCosigned,
    Visited,
)
from backend.domain.funnel import fold_referral
from backend.domain.verification import (
    VerificationPolicy,
    VerificationState,
    next_due,
    verify,
)
from tests.unit.ledger_builder import CLINIC, Ledger, at

V = VerificationState
POLICY = VerificationPolicy()
APPT = UUID(int=55)
Q = UUID(int=77)


def sent() -> Ledger:
    ledger = Ledger()
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    return ledger


def state(ledger: Ledger, milestone: str, now_hours: float) -> V:
    return verify(fold_referral(ledger.events), at(now_hours), POLICY)[milestone].state


def answer(milestone: str, value: str, **kw) -> PatientAnswer:
    return PatientAnswer(question_id=Q, milestone=milestone, answer=value, **kw)


def booking(hours_ahead: float = 48) -> Contacted:
    return Contacted(outcome="booked", appointment_at=at(hours_ahead), appointment_id=APPT)


@pytest.mark.parametrize(
    ("said", "verdict"),
    [("yes", V.verified), ("no", V.disputed), ("unsure", V.awaiting_patient)],
)
def test_the_clinic_claims_and_the_patient_answers(said, verdict):
    """Yes verifies the claim, no disputes it; unsure is not an answer."""
    ledger = sent()
    ledger.add(booking(), hours=2)
    ledger.add(answer("contacted", said), hours=3, source=Source.patient_app)
    assert state(ledger, "contacted", 4) is verdict


def test_no_answer_is_awaiting_then_unverified_after_the_window():
    ledger = sent()
    ledger.add(booking(), hours=2)
    window = POLICY.answer_window.total_seconds() / 3600
    assert state(ledger, "contacted", 2 + window - 1) is V.awaiting_patient
    assert state(ledger, "contacted", 2 + window) is V.unverified


def test_patient_says_it_happened_and_clinic_silent():
    ledger = sent()
    ledger.add(PatientReport(about="contacted"), hours=1, source=Source.patient_app)
    assert state(ledger, "contacted", 2) is V.clinic_silent


def test_silence_past_the_sla_is_overdue():
    ledger = sent()
    sla = POLICY.contact_sla.total_seconds() / 3600
    assert state(ledger, "contacted", sla - 1) is V.pending
    assert state(ledger, "contacted", sla) is V.overdue


def test_patient_saying_nobody_called_keeps_it_overdue_and_marks_the_denial():
    ledger = sent()
    ledger.add(ContactRating(called=False), hours=30, source=Source.patient_app)
    v = verify(fold_referral(ledger.events), at(31), POLICY)["contacted"]
    assert v.state is V.overdue and v.patient_answer == "no"


def test_patient_report_before_the_clinic_claim_confirms_it():
    """The patient says 'they called me' first; the clinic logs the call later."""
    ledger = sent()
    ledger.add(PatientReport(about="contacted"), hours=1, source=Source.patient_app)
    ledger.add(booking(), hours=2)
    assert state(ledger, "contacted", 3) is V.verified


def test_a_no_said_before_the_claimed_call_does_not_dispute_it():
    """'Nobody called' at 10:00 says nothing about a call the clinic logs for 14:00."""
    ledger = sent()
    ledger.add(answer("contacted", "no"), hours=10, source=Source.patient_app)
    ledger.add(booking(), hours=14)
    assert state(ledger, "contacted", 15) is V.awaiting_patient


def test_a_no_said_after_a_backdated_call_disputes_it():
    """'Nobody called' at 10:00, then the clinic logs a call it says was at 09:00."""
    ledger = sent()
    ledger.add(answer("contacted", "no"), hours=10, source=Source.patient_app)
    ledger.add(booking(), hours=9, recorded_hours=14)
    assert state(ledger, "contacted", 15) is V.disputed


def test_late_logged_claim_gets_a_fresh_answer_window():
    ledger = sent()
    ledger.add(booking(), hours=2, recorded_hours=200)
    assert state(ledger, "contacted", 201) is V.awaiting_patient


def test_booking_answer_counts_only_for_the_time_it_was_about():
    ledger = sent()
    ledger.add(booking(48), hours=2)
    ledger.add(answer("booked", "yes", appointment_at=at(48)), hours=3, source=Source.patient_app)
    assert state(ledger, "booked", 4) is V.verified
    moved = Contacted(outcome="booked", appointment_at=at(72), appointment_id=UUID(int=56))
    ledger.add(moved, hours=5)
    assert state(ledger, "booked", 6) is V.awaiting_patient


def test_confirming_the_appointment_in_the_app_confirms_the_booking():
    ledger = sent()
    ledger.add(booking(48), hours=2)
    ledger.add(
        AppointmentResponse(appointment_id=APPT, response="confirm"),
        hours=3,
        source=Source.patient_app,
    )
    assert state(ledger, "booked", 4) is V.verified


def test_visit_code_cosigns_the_visit():
    ledger = sent()
    ledger.add(booking(48), hours=2)
    ledger.add(VisitCosigned(code_id=UUID(int=3)), hours=48, source=Source.patient_app)
    fold = fold_referral(ledger.events)
    assert fold.step == "visited"
    assert verify(fold, at(49), POLICY)["visited"].state is V.verified


def test_missed_appointment_with_clinic_silent_is_overdue():
    ledger = sent()
    ledger.add(booking(48), hours=2)
    grace = POLICY.visit_grace.total_seconds() / 3600
    assert state(ledger, "visited", 48 + grace - 0.5) is V.pending
    assert state(ledger, "visited", 48 + grace) is V.overdue


def test_exchange_ruling_settles_a_dispute_either_way():
    ledger = sent()
    ledger.add(booking(48), hours=2)
    ledger.add(Visited(), hours=48)
    ledger.add(answer("visited", "no"), hours=50, source=Source.patient_app)
    assert state(ledger, "visited", 51) is V.disputed
    ruling = ledger.add(
        Resolution(milestone="visited", outcome="did_not_happen", note="no receipt"),
        hours=60,
        source=Source.exchange,
    )
    assert state(ledger, "visited", 61) is V.rejected
    assert fold_referral(ledger.events).step == "booked"
    ledger.add(
        Correction(retracts=ruling.id, reason="receipt found"), hours=70, source=Source.exchange
    )
    assert state(ledger, "visited", 71) is V.disputed
    ledger.add(
        Resolution(milestone="visited", outcome="happened", note="receipt"),
        hours=72,
        source=Source.exchange,
    )
    assert state(ledger, "visited", 73) is V.verified


def test_ruling_happened_moves_a_clinic_silent_referral():
    ledger = sent()
    ledger.add(
        PatientReport(about="booked", appointment_at=at(48)), hours=1, source=Source.patient_app
    )
    ledger.add(
        Resolution(milestone="booked", outcome="happened", note="patient's word"),
        hours=5,
        source=Source.exchange,
    )
    fold = fold_referral(ledger.events)
    assert fold.step == "booked"
    assert verify(fold, at(6), POLICY)["booked"].state is V.verified


def test_next_due_is_the_earliest_deadline():
    ledger = sent()
    ledger.add(booking(48), hours=2)
    result = verify(fold_referral(ledger.events), at(3), POLICY)
    # The call's answer window ends at 2 + 72 h; the visit becomes overdue at 48 + 3 h.
    assert next_due(result) == at(48) + timedelta(hours=3)

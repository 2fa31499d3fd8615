"""Which questions reach the patient, and which are withdrawn."""

from uuid import UUID, uuid4

from backend.domain.events import Contacted, Correction, PatientAnswer, Sent, Source, Visited
from backend.domain.funnel import fold_referral
from backend.domain.questions import AskedQuestion, QuestionKind, check_question, plan_questions
from backend.domain.verification import verify
from tests.unit.ledger_builder import CLINIC, Ledger, at


def plan(ledger: Ledger, now_hours: float, asked=()):
    fold = fold_referral(ledger.events)
    now = at(now_hours)
    return plan_questions(fold, verify(fold, now), list(asked), now=now)


def sent() -> Ledger:
    ledger = Ledger()
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    return ledger


def as_asked(spec, open_=True) -> AskedQuestion:
    return AskedQuestion(
        id=uuid4(), kind=spec.kind, milestone=spec.milestone, subject=spec.subject, open=open_
    )


def test_nothing_to_ask_before_anything_happens():
    assert plan(sent(), 1).ask == ()


def test_booking_claim_asks_to_confirm_the_call_and_the_booking():
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(48), appointment_id=UUID(int=5)), hours=2
    )
    asked = plan(ledger, 2.1).ask
    assert {q.kind for q in asked} == {QuestionKind.confirm_contact, QuestionKind.confirm_booking}
    booking = next(q for q in asked if q.kind is QuestionKind.confirm_booking)
    assert booking.about_at == at(48)
    # Asked once: the same state with those questions open asks nothing new.
    assert plan(ledger, 3, [as_asked(q) for q in asked]).ask == ()


def test_rescheduling_withdraws_the_old_booking_question_and_asks_again():
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(48), appointment_id=UUID(int=5)), hours=2
    )
    first = [as_asked(q) for q in plan(ledger, 2.1).ask]
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(72), appointment_id=UUID(int=6)), hours=5
    )
    again = plan(ledger, 5.1, first)
    old_booking = next(q for q in first if q.kind is QuestionKind.confirm_booking)
    assert again.withdraw == (old_booking.id,)
    assert [q.about_at for q in again.ask] == [at(72)]


def test_a_claim_withdraws_the_open_check_question_and_asks_to_confirm():
    ledger = sent()
    spec = check_question(fold_referral(ledger.events), QuestionKind.contact_check, now=at(3))
    check = [as_asked(spec)]
    ledger.add(Contacted(outcome="declined", reason="price"), hours=26)
    result = plan(ledger, 26.1, check)
    assert result.withdraw == (check[0].id,)
    assert [q.kind for q in result.ask] == [QuestionKind.confirm_contact]


def test_answered_no_and_a_new_claim_after_it_asks_again():
    ledger = sent()
    claim = ledger.add(Contacted(outcome="declined", reason="x"), hours=2)
    first = plan(ledger, 2.1).ask
    ledger.add(
        PatientAnswer(question_id=UUID(int=1), milestone="contacted", answer="no"),
        hours=3,
        source=Source.patient_app,
    )
    asked = [as_asked(q, open_=False) for q in first]
    assert plan(ledger, 4, asked).ask == ()  # disputed: the exchange's turn, not ours
    ledger.add(Contacted(outcome="declined", reason="x"), hours=5)
    again = plan(ledger, 5.1, asked).ask
    assert [q.subject for q in again] != [f"claim:{claim.id}"]
    assert [q.kind for q in again] == [QuestionKind.confirm_contact]


def test_check_questions_name_the_call_and_the_appointment():
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(48), appointment_id=UUID(int=5)), hours=2
    )
    fold = fold_referral(ledger.events)
    contact = check_question(fold, QuestionKind.contact_check, now=at(3))
    visit = check_question(fold, QuestionKind.visit_check, now=at(52))
    assert (contact.milestone, contact.about_at) == ("contacted", at(0))
    assert (visit.milestone, visit.about_at, visit.subject) == (
        "visited",
        at(48),
        f"visit_check:{UUID(int=5)}",
    )
    # Silence alone asks nothing here: timers decide when (see test_reminders).
    assert plan(sent(), 30).ask == ()


def test_a_claim_taken_back_withdraws_the_question_about_it():
    ledger = sent()
    visit = ledger.add(Visited(), hours=2, source=Source.mis_webhook)
    first = [as_asked(q) for q in plan(ledger, 2.1).ask]
    assert [q.kind for q in first] == [QuestionKind.confirm_visit]
    ledger.add(Correction(retracts=visit.id, reason="cancelled in the MIS"), hours=3)
    after = plan(ledger, 3.1, first)
    assert after.withdraw == (first[0].id,) and after.ask == ()

"""Which questions reach the patient, and which are withdrawn."""

from uuid import UUID, uuid4

import msgspec
import pytest

from backend.domain.events import (
    Closed,
    Completed,
    Contacted,
    Correction,
    ItemDone,
    PatientAnswer,
    Reopened,
    Sent,
    Source,
    Transferred,
    Visited,
)
from backend.domain.funnel import fold_referral
from backend.domain.questions import (
    AskedQuestion,
    QuestionKind,
    QuestionPlan,
    check_question,
    plan_questions,
)
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


# --- a referral that ends without completion (closed, declined, transferred) ----------


def carry(ledger: Ledger, now_hours: float, asked: list[AskedQuestion]) -> list[AskedQuestion]:
    """What the store holds after the recording carries out the plan at `now_hours`."""
    result = plan(ledger, now_hours, asked)
    again = {spec.again for spec in result.ask}
    kept = [
        msgspec.structs.replace(q, open=False, withdrawn=True)
        if q.id in result.withdraw
        else msgspec.structs.replace(q, open=True, withdrawn=False)
        if q.id in again
        else q
        for q in asked
    ]
    return kept + [as_asked(spec) for spec in result.ask if spec.again is None]


def open_kinds(asked: list[AskedQuestion]) -> set[QuestionKind]:
    return {q.kind for q in asked if q.open}


def booked_visited_item() -> tuple[Ledger, list[AskedQuestion]]:
    """Booked, came, an item done: each claim asked of the patient, none answered yet."""
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(48), appointment_id=UUID(int=5)), hours=2
    )
    asked = carry(ledger, 2.1, [])
    ledger.add(Visited(), hours=48)
    ledger.add(ItemDone(item_id=ITEM), hours=49)
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(200), appointment_id=UUID(int=6)), hours=50
    )
    asked = carry(ledger, 50.1, asked)
    assert open_kinds(asked) == {
        QuestionKind.confirm_contact,
        QuestionKind.confirm_booking,
        QuestionKind.confirm_visit,
        QuestionKind.confirm_item,
    }
    return ledger, asked


ITEM = UUID(int=36)
CLOSINGS = {
    "closed": (Closed(reason="moved away"), Source.clinic_panel),
    "declined": (Contacted(outcome="declined", reason="price"), Source.clinic_panel),
    "transferred": (
        Transferred(to_referral_id=UUID(int=99), to_clinic_id=UUID(int=98)),
        Source.exchange,
    ),
}


@pytest.mark.parametrize("closing", CLOSINGS)
def test_an_ending_withdraws_what_it_made_moot_and_keeps_what_verifies_a_reported_fact(
    closing,
):
    ledger, asked = booked_visited_item()
    body, source = CLOSINGS[closing]
    ledger.add(body, hours=51, source=source)
    result = plan(ledger, 51.1, asked)
    booking = next(q for q in asked if q.open and q.kind is QuestionKind.confirm_booking)
    # The booking to come is off; the call, the visit and the item done are the clinic's
    # word on what happened, and still the patient's to confirm.
    assert result.withdraw == (booking.id,)
    assert result.ask == ()  # (a decline's call claim: the call question is still open)


def test_no_question_is_withdrawn_while_the_referral_is_open():
    ledger, asked = booked_visited_item()
    assert plan(ledger, 51.1, asked) == QuestionPlan(ask=(), withdraw=())


def test_a_completed_referral_keeps_asking_whether_treatment_is_finished():
    ledger, asked = booked_visited_item()
    ledger.add(Completed(), hours=51)
    asked = carry(ledger, 51.1, asked)
    assert QuestionKind.confirm_completed in open_kinds(asked)
    assert QuestionKind.confirm_booking in open_kinds(asked)


def test_an_ended_referral_asks_only_about_what_the_clinic_reports_as_done():
    ledger = sent()
    # Booked and closed in one breath (a CRM's batch): the booking is not asked about,
    # the call is.
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(48), appointment_id=UUID(int=5)), hours=2
    )
    ledger.add(Closed(reason="changed their mind"), hours=2.5)
    assert [q.kind for q in plan(ledger, 2.6).ask] == [QuestionKind.confirm_contact]
    # A claim reported late, about before the ending, is still asked.
    ledger.add(ItemDone(item_id=ITEM), hours=1, recorded_hours=3)
    assert {q.kind for q in plan(ledger, 3.1).ask} == {
        QuestionKind.confirm_contact,
        QuestionKind.confirm_item,
    }


def test_a_decline_still_asks_whether_the_clinic_called():
    """A decline logged without a call would close the referral on the clinic's word
    alone: the patient is the only witness of that call."""
    ledger = sent()
    ledger.add(Contacted(outcome="declined", reason="price"), hours=2)
    assert [q.kind for q in plan(ledger, 2.1).ask] == [QuestionKind.confirm_contact]


def test_the_silent_clinics_checks_are_withdrawn_by_an_ending():
    ledger = sent()
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(48), appointment_id=UUID(int=5)), hours=2
    )
    asked = carry(ledger, 2.1, [])
    check = check_question(fold_referral(ledger.events), QuestionKind.visit_check, now=at(51))
    asked = [*asked, as_asked(check)]
    ledger.add(Closed(reason="moved away"), hours=52)
    result = plan(ledger, 52.1, asked)
    assert {q.kind for q in asked if q.id in result.withdraw} == {
        QuestionKind.visit_check,
        QuestionKind.confirm_booking,
    }


def test_reopening_asks_again_what_the_ending_withdrew_and_is_still_due():
    ledger, asked = booked_visited_item()
    booking = next(q for q in asked if q.open and q.kind is QuestionKind.confirm_booking)
    ledger.add(Closed(reason="moved away"), hours=51)
    asked = carry(ledger, 51.1, asked)
    assert QuestionKind.confirm_booking not in open_kinds(asked)
    assert plan(ledger, 55, asked).ask == ()  # closed: not asked again
    ledger.add(Reopened(reason="came back"), hours=60, source=Source.exchange)
    again = plan(ledger, 60.1, asked)
    # The same question (one per subject), asked again.
    assert [(q.kind, q.about_at, q.again) for q in again.ask] == [
        (QuestionKind.confirm_booking, at(200), booking.id)
    ]
    assert again.withdraw == ()
    # The window for the booking runs from when it was recorded: asked until then only.
    assert again.ask[0].expires_at == at(50 + 72)
    asked = carry(ledger, 60.1, asked)
    assert QuestionKind.confirm_booking in open_kinds(asked)
    assert plan(ledger, 61, asked) == QuestionPlan(ask=(), withdraw=())  # asked once


def test_reopening_after_the_answer_window_asks_nothing_again():
    ledger, asked = booked_visited_item()
    ledger.add(Closed(reason="moved away"), hours=51)
    asked = carry(ledger, 51.1, asked)
    ledger.add(Reopened(reason="came back"), hours=130, source=Source.exchange)
    assert plan(ledger, 130.1, asked).ask == ()  # unverified by now: nobody to ask


def test_an_answered_question_is_never_asked_again():
    ledger = sent()
    ledger.add(Contacted(outcome="declined", reason="x"), hours=2)
    asked = [as_asked(q, open_=False) for q in plan(ledger, 2.1).ask]  # answered "unsure"
    ledger.add(Reopened(reason="came back"), hours=3, source=Source.exchange)
    assert plan(ledger, 3.1, asked).ask == ()

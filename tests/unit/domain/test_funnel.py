"""The funnel fold: every transition, late and out-of-order events, corrections, money."""

from uuid import UUID

import pytest

from backend.domain.events import (
    Closed,
    Completed,
    Contacted,
    Correction,
    ItemDone,
    NoShow,
    Payment,
    PlanLine,
    PlanSet,
    Received,
    Reopened,
    Resolution,
    Sent,
    Source,
    Transferred,
    Visited,
)
from backend.domain.funnel import RANK, Step, fold_referral
from tests.unit.ledger_builder import CLINIC, Ledger, at

ITEM_A, ITEM_B, ITEM_C = UUID(int=101), UUID(int=102), UUID(int=103)
PLAN = UUID(int=900)


def plan_set(version=1, origin="estimated", lines=None, chosen=None) -> PlanSet:
    return PlanSet(
        plan_id=PLAN,
        version=version,
        origin=origin,
        currency="RUB",
        lines=lines
        or [
            PlanLine(item_id=ITEM_A, price=10_000_00, specialization="therapy"),
            PlanLine(item_id=ITEM_B, price=30_000_00, specialization="endodontics", stage=2),
        ],
        chosen_variant=chosen,
    )


def booked(hours=0.0):
    return Contacted(outcome="booked", appointment_at=at(48 + hours), appointment_id=UUID(int=55))


# How to arrive at each step, with a plan so that money has something to count.
PREFIXES = {
    Step.sent: [],
    Step.delivered: [Received()],
    Step.unreachable: [Received(), Contacted(outcome="unreachable")],
    Step.contacted: [Resolution(milestone="contacted", outcome="happened", note="patient")],
    Step.booked: [Received(), booked()],
    Step.declined: [Received(), Contacted(outcome="declined", reason="price")],
    Step.visited: [Received(), booked(), Visited()],
    Step.in_treatment: [Received(), booked(), Visited(), ItemDone(item_id=ITEM_A)],
    Step.completed: [booked(), Visited(), ItemDone(item_id=ITEM_A), Completed()],
    Step.closed: [Received(), booked(), Closed(reason="moved away")],
    Step.transferred: [
        booked(),
        Visited(),
        Transferred(to_referral_id=UUID(int=2), to_clinic_id=UUID(int=3)),
    ],
}

KINDS = {
    "received": Received(),
    "booked": booked(10),
    "declined": Contacted(outcome="declined", reason="price"),
    "unreachable": Contacted(outcome="unreachable"),
    "visited": Visited(),
    "no_show": NoShow(),
    "item_done": ItemDone(item_id=ITEM_B),
    "payment": Payment(amount=5_000_00),
    "completed": Completed(),
    "closed": Closed(reason="refused"),
    "reopened": Reopened(reason="came back"),
    "transferred": Transferred(to_referral_id=UUID(int=2), to_clinic_id=UUID(int=3)),
}

# The step after one more event of each kind, from each step. Read across a row.
# Completed is final (a recall booking is part of completion); only a reopening takes
# it back. A transferred referral is finished for good: the patient moved on.
# fmt: off
GRID = """
from         received     booked       declined     unreachable  visited      no_show      item_done    payment      completed    closed       reopened     transferred
sent         delivered    booked       declined     unreachable  visited      sent         in_treatment in_treatment completed    closed       sent         transferred
delivered    delivered    booked       declined     unreachable  visited      delivered    in_treatment in_treatment completed    closed       delivered    transferred
unreachable  unreachable  booked       declined     unreachable  visited      unreachable  in_treatment in_treatment completed    closed       unreachable  transferred
contacted    contacted    booked       declined     contacted    visited      contacted    in_treatment in_treatment completed    closed       contacted    transferred
booked       booked       booked       declined     booked       visited      booked       in_treatment in_treatment completed    closed       booked       transferred
declined     declined     booked       declined     declined     visited      declined     in_treatment in_treatment completed    closed       contacted    transferred
visited      visited      visited      declined     visited      visited      visited      in_treatment in_treatment completed    closed       visited      transferred
in_treatment in_treatment in_treatment declined     in_treatment in_treatment in_treatment in_treatment in_treatment completed    closed       in_treatment transferred
completed    completed    completed    completed    completed    completed    completed    completed    completed    completed    completed    in_treatment completed
closed       closed       booked       declined     closed       visited      closed       in_treatment in_treatment completed    closed       booked       transferred
transferred  transferred  transferred  transferred  transferred  transferred  transferred  transferred  transferred  transferred  transferred  transferred  transferred
"""  # noqa: E501 - a table reads across
# fmt: on


def _parse(grid: str) -> dict[Step, dict[str, Step]]:
    header, *rows = [line.split() for line in grid.strip().splitlines()]
    return {Step(row[0]): dict(zip(header[1:], map(Step, row[1:]), strict=True)) for row in rows}


TRANSITIONS = _parse(GRID)


def ledger_at(step: Step) -> Ledger:
    ledger = Ledger()
    ledger.add(plan_set(), hours=0, source=Source.exchange)
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    for i, body in enumerate(PREFIXES[step], start=1):
        source = (
            Source.exchange if isinstance(body, Resolution | Transferred) else Source.clinic_panel
        )
        ledger.add(body, hours=i, source=source)
    return ledger


def test_every_step_has_a_prefix_and_a_row_for_every_kind():
    assert set(PREFIXES) == set(Step) == set(TRANSITIONS)
    for row in TRANSITIONS.values():
        assert set(row) == set(KINDS)


@pytest.mark.parametrize("start", list(Step))
def test_prefix_reaches_its_step(start):
    assert fold_referral(ledger_at(start).events).step is start


@pytest.mark.parametrize(
    ("start", "kind"), [(s, k) for s in Step for k in KINDS], ids=lambda x: str(x)
)
def test_transition_table(start, kind):
    ledger = ledger_at(start)
    source = Source.exchange if kind in ("reopened", "transferred") else Source.clinic_panel
    ledger.add(KINDS[kind], hours=20, source=source)
    assert fold_referral(ledger.events).step is TRANSITIONS[start][kind]


def test_late_event_lands_where_it_happened():
    """A CRM delivers 'visited on day 3' after the clinic closed the referral on day 5."""
    ledger = ledger_at(Step.booked)
    ledger.add(Closed(reason="no answer"), hours=5 * 24)
    ledger.add(Visited(), hours=3 * 24, recorded_hours=6 * 24)
    fold = fold_referral(ledger.events)
    assert fold.step is Step.closed
    assert fold.step_at["visited"] == at(3 * 24)
    assert fold.reached is Step.visited


def test_event_after_closing_reopens():
    ledger = ledger_at(Step.closed)
    ledger.add(Visited(), hours=30)
    assert fold_referral(ledger.events).step is Step.visited


def test_step_never_moves_back_without_correction():
    ledger = ledger_at(Step.visited)
    ledger.add(Received(), hours=30)
    ledger.add(booked(40), hours=31)
    assert fold_referral(ledger.events).step is Step.visited


def test_correction_takes_a_claim_back_and_the_step_with_it():
    ledger = ledger_at(Step.booked)
    visit = ledger.add(Visited(), hours=30)
    assert fold_referral(ledger.events).step is Step.visited
    ledger.add(Correction(retracts=visit.id, reason="wrong patient"), hours=31)
    fold = fold_referral(ledger.events)
    assert fold.step is Step.booked
    assert visit.id in fold.retracted
    assert "visited" not in fold.step_at


def test_correcting_a_correction_restores_the_claim():
    ledger = ledger_at(Step.booked)
    visit = ledger.add(Visited(), hours=30)
    fix = ledger.add(Correction(retracts=visit.id, reason="oops"), hours=31)
    ledger.add(Correction(retracts=fix.id, reason="the visit was right"), hours=32)
    assert fold_referral(ledger.events).step is Step.visited


def test_ruling_did_not_happen_retracts_the_claims_it_saw_only():
    ledger = ledger_at(Step.booked)
    ledger.add(Visited(), hours=30)
    ledger.add(
        Resolution(milestone="visited", outcome="did_not_happen", note="patient denies"),
        hours=40,
        source=Source.exchange,
    )
    assert fold_referral(ledger.events).step is Step.booked
    ledger.add(Visited(), hours=50)  # later, the patient really comes
    assert fold_referral(ledger.events).step is Step.visited


def test_reopened_is_the_only_way_back_from_completed():
    ledger = ledger_at(Step.completed)
    ledger.add(Closed(reason="x"), hours=30)
    assert fold_referral(ledger.events).step is Step.completed
    ledger.add(Reopened(reason="crown remade"), hours=31, source=Source.exchange)
    assert fold_referral(ledger.events).step is Step.in_treatment


def test_same_instant_tie_breaks_on_kind_not_arrival():
    a = ledger_at(Step.booked)
    a.add(Closed(reason="x"), hours=30)
    a.add(Visited(), hours=30)
    b = ledger_at(Step.booked)
    b.add(Visited(), hours=30)
    b.add(Closed(reason="x"), hours=30)
    assert fold_referral(a.events).step is fold_referral(b.events).step is Step.closed


def test_money_through_the_funnel():
    ledger = ledger_at(Step.booked)
    fold = fold_referral(ledger.events)
    assert fold.money.estimated == fold.money.planned == fold.money.accepted == 40_000_00
    assert fold.money.remaining == 40_000_00
    ledger.add(ItemDone(item_id=ITEM_A), hours=30)
    ledger.add(ItemDone(item_id=ITEM_A), hours=31, source=Source.bitrix24)  # same item again
    ledger.add(Payment(amount=10_000_00), hours=32)
    fold = fold_referral(ledger.events)
    assert fold.money.executed == 10_000_00
    assert fold.money.paid == 10_000_00
    assert fold.money.remaining == 30_000_00
    ledger.add(Closed(reason="moved away"), hours=40)
    fold = fold_referral(ledger.events)
    assert (fold.money.remaining, fold.money.lost) == (0, 30_000_00)


def test_clinic_plan_replaces_estimate_and_keeps_done_items():
    ledger = ledger_at(Step.visited)
    ledger.add(ItemDone(item_id=ITEM_A), hours=30)
    actual = plan_set(
        version=2,
        origin="actual",
        lines=[
            PlanLine(item_id=ITEM_A, price=12_000_00, specialization="therapy"),
            PlanLine(item_id=ITEM_C, price=50_000_00, specialization="implantology", stage=2),
        ],
    )
    ledger.add(actual, hours=29)
    fold = fold_referral(ledger.events)
    assert fold.money.estimated == 40_000_00
    assert fold.money.planned == 62_000_00
    assert fold.money.executed == 12_000_00  # the price the clinic actually set
    assert fold.money.remaining == 50_000_00


def test_variants_count_only_the_chosen_one():
    lines = [
        PlanLine(item_id=ITEM_A, price=1_000_00, specialization="diagnostics"),
        PlanLine(item_id=ITEM_B, price=100_000_00, specialization="implantology", variant="A"),
        PlanLine(item_id=ITEM_C, price=40_000_00, specialization="orthopedics", variant="B"),
    ]
    ledger = Ledger()
    ledger.add(plan_set(lines=lines), hours=0, source=Source.exchange)
    assert fold_referral(ledger.events).money.planned == 101_000_00  # first offered: A
    ledger.add(plan_set(version=2, origin="actual", lines=lines, chosen="B"), hours=1)
    assert fold_referral(ledger.events).money.planned == 41_000_00


def test_unreachable_then_booked_counts_attempts():
    ledger = ledger_at(Step.unreachable)
    ledger.add(Contacted(outcome="unreachable"), hours=10)
    ledger.add(booked(), hours=20)
    fold = fold_referral(ledger.events)
    assert fold.step is Step.booked
    assert fold.contact_attempts == 3


def test_no_show_marks_the_appointment_and_a_new_booking_clears_it():
    ledger = ledger_at(Step.booked)
    ledger.add(NoShow(), hours=50)
    fold = fold_referral(ledger.events)
    assert fold.no_show and fold.current_appointment.status == "noshow"
    ledger.add(
        Contacted(outcome="booked", appointment_at=at(100), appointment_id=UUID(int=56)),
        hours=60,
    )
    fold = fold_referral(ledger.events)
    assert not fold.no_show
    assert fold.current_appointment.id == UUID(int=56)
    assert [a.status for a in fold.appointments] == ["noshow", "booked"]


def test_ranks_follow_the_main_line():
    assert RANK[Step.sent] < RANK[Step.delivered] < RANK[Step.contacted] < RANK[Step.booked]
    assert RANK[Step.booked] < RANK[Step.visited] < RANK[Step.in_treatment] < RANK[Step.completed]

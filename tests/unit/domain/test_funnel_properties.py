"""Invariants of the fold and of verification, over generated ledgers."""

from datetime import timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.events import (
    Closed,
    Completed,
    Contacted,
    ContactRating,
    Event,
    ItemDone,
    NoShow,
    PatientAnswer,
    PatientReport,
    Payment,
    PlanLine,
    PlanSet,
    Received,
    Sent,
    Source,
    Visited,
    side_of,
)
from backend.domain.funnel import RANK, fold_order, fold_referral, milestones_claimed
from backend.domain.verification import VerificationPolicy, VerificationState, verify
from tests.unit.ledger_builder import CLINIC, T0

ITEMS = [UUID(int=100 + i) for i in range(4)]
REFERRAL = UUID(int=1)
PLAN = PlanSet(
    plan_id=UUID(int=9),
    version=1,
    origin="estimated",
    currency="RUB",
    lines=[
        PlanLine(item_id=item, price=(i + 1) * 7_000_00, specialization="therapy", stage=i + 1)
        for i, item in enumerate(ITEMS)
    ],
)

appointment_times = st.integers(min_value=24, max_value=400).map(lambda h: T0 + timedelta(hours=h))

clinic_bodies = st.one_of(
    st.just(Received()),
    st.builds(
        Contacted,
        outcome=st.just("booked"),
        appointment_at=appointment_times,
        appointment_id=st.sampled_from([UUID(int=500 + i) for i in range(3)]),
    ),
    st.builds(Contacted, outcome=st.just("declined"), reason=st.just("price")),
    st.builds(Contacted, outcome=st.just("unreachable")),
    st.just(Visited()),
    st.just(NoShow()),
    st.builds(ItemDone, item_id=st.sampled_from(ITEMS)),
    st.builds(Payment, amount=st.integers(min_value=1, max_value=50_000_00)),
    st.just(Completed()),
    st.builds(Closed, reason=st.sampled_from(["refused", "moved away"])),
)
milestones = st.sampled_from(
    ["contacted", "booked", "visited", "completed"] + [f"item:{i}" for i in ITEMS]
)
patient_bodies = st.one_of(
    st.builds(
        PatientAnswer,
        question_id=st.just(UUID(int=77)),
        milestone=milestones,
        answer=st.sampled_from(["yes", "no", "unsure"]),
    ),
    st.builds(PatientReport, about=st.sampled_from(["contacted", "booked", "visited", "stopped"])),
    st.builds(ContactRating, called=st.booleans(), stars=st.integers(1, 5)),
)

# A logical event: what was said, by which source, and when it happened.
logical_events = st.lists(
    st.one_of(
        st.tuples(clinic_bodies, st.sampled_from([Source.clinic_panel, Source.bitrix24])),
        st.tuples(patient_bodies, st.just(Source.patient_app)),
    ).flatmap(lambda pair: st.tuples(st.just(pair[0]), st.just(pair[1]), st.integers(1, 600))),
    max_size=25,
)


def arrive(logical, order) -> list[Event]:
    """The same statements, arriving in `order`: ids and recorded times follow arrival."""
    head = [(PLAN, Source.exchange, 0), (Sent(clinic_id=CLINIC), Source.exchange, 0)]
    stated = head + list(logical)
    events = []
    for arrival, index in enumerate(order, start=1):
        body, source, hours = stated[index]
        events.append(
            Event(
                id=arrival,
                referral_id=REFERRAL,
                source=source,
                side=side_of(source, body),
                actor="test",
                occurred_at=T0 + timedelta(hours=hours),
                recorded_at=T0 + timedelta(hours=600 + arrival),
                # Keys belong to the statement (a redelivery has the same key), not the arrival.
                idempotency_key=f"s{index}",
                body=body,
            )
        )
    return events


def outcome(events):
    """What the fold decides, leaving out ledger ids (which follow arrival)."""
    fold = fold_referral(events)
    occurred = {e.id: e.occurred_at for e in events}
    return (
        fold.step,
        fold.reached,
        fold.step_at,
        fold.money,
        fold.closed_reason,
        fold.done_items,
        [(a.id, a.starts_at, a.status) for a in fold.appointments],
        {m: sorted(occurred[c.event_id] for c in cs) for m, cs in fold.clinic_claims.items()},
        {m: sorted((s.occurred_at, s.answer) for s in ss) for m, ss in fold.patient_says.items()},
    )


@settings(max_examples=300, deadline=None)
@given(logical=logical_events, data=st.data())
def test_fold_is_the_same_for_any_arrival_order(logical, data):
    n = len(logical) + 2
    first = arrive(logical, list(range(n)))
    order = data.draw(st.permutations(range(n)))
    assert outcome(arrive(logical, order)) == outcome(first)


@settings(max_examples=300, deadline=None)
@given(logical=logical_events)
def test_reached_step_never_moves_back_without_a_correction(logical):
    events = sorted(arrive(logical, list(range(len(logical) + 2))), key=fold_order)
    ranks = [RANK[fold_referral(events[:i]).reached] for i in range(1, len(events) + 1)]
    assert ranks == sorted(ranks)


@settings(max_examples=300, deadline=None)
@given(logical=logical_events, now_hours=st.integers(0, 1500))
def test_verification_states_partition_the_claims(logical, now_hours):
    events = arrive(logical, list(range(len(logical) + 2)))
    fold = fold_referral(events)
    now = T0 + timedelta(hours=now_hours)
    policy = VerificationPolicy()
    result = verify(fold, now, policy)

    # Every (claim, milestone) the clinic asserted is judged by exactly one verification.
    asserted = {
        (e.id, m) for e in events if e.side.value == "clinic" for m in milestones_claimed(e)
    }
    judged = [(i, v.milestone) for v in result.values() for i in v.claim_event_ids]
    assert sorted(judged) == sorted(asserted)

    # And each state means what the table in backend/domain/verification.py says it means.
    for v in result.values():
        claimed = bool(v.claim_event_ids)
        if v.state is VerificationState.verified:
            assert claimed and v.patient_answer == "yes"
        elif v.state is VerificationState.disputed:
            assert claimed and v.patient_answer == "no"
            assert v.patient_said_at >= v.clinic_said_at
        elif v.state is VerificationState.awaiting_patient:
            assert claimed and v.patient_answer is None and v.due_at > now
        elif v.state is VerificationState.unverified:
            assert claimed and v.patient_answer is None
        elif v.state is VerificationState.clinic_silent:
            assert not claimed and v.patient_answer == "yes"
        elif v.state is VerificationState.overdue:
            assert not claimed and v.patient_answer != "yes"
        else:
            assert v.state is VerificationState.pending
            assert not claimed and v.patient_answer != "yes"
            assert v.due_at is None or v.due_at > now

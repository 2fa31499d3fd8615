"""The incremental fold (FoldState, advance, finish) is the full fold, always: for any
ledger and any arrival order, with corrections and rulings arriving among the rest, and
with the state stored and read back between events as the recording does."""

from datetime import datetime, timedelta, timezone

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.events import (
    Completed,
    Contacted,
    Correction,
    Event,
    Received,
    Resolution,
    Source,
    Visited,
    side_of,
)
from backend.domain.funnel import (
    FOLD_VERSION,
    FoldState,
    ReferralFold,
    advance,
    finish,
    fold_referral,
    fold_state,
)
from tests.unit.domain.test_funnel_properties import REFERRAL, arrive, logical_events
from tests.unit.ledger_builder import T0

stored = msgspec.json.Encoder()  # as store.referrals keeps it
read_back = msgspec.json.Decoder(FoldState)


def spelled(fold: ReferralFold) -> tuple[bytes, frozenset[int]]:
    """A fold as JSON (offsets spelled out: equal datetimes in other offsets compare
    equal, but a question's subject names the time as stated), its one set apart (JSON
    lists a set in no particular order)."""
    return stored.encode(msgspec.structs.replace(fold, retracted=frozenset())), fold.retracted


def take_backs(events: list[Event], draws: list[tuple[int, int, bool]]) -> list[Event]:
    """Corrections and did-not-happen rulings among the events, each about an event that
    arrived before it (as the ledger allows), given new ids after those it follows."""
    out = list(events)
    for position, target, ruling in draws:
        at = min(position, len(out))
        if at == 0:
            continue
        aimed = out[target % at]
        body = (
            Resolution(milestone="contacted", outcome="did_not_happen", note="n")
            if ruling
            else Correction(retracts=aimed.id, reason="typo")
        )
        source = Source.exchange if ruling else Source.clinic_panel
        out.insert(
            at,
            Event(
                id=0,
                referral_id=REFERRAL,
                source=source,
                side=side_of(source, body),
                actor="test",
                occurred_at=aimed.occurred_at + timedelta(minutes=5),
                recorded_at=T0 + timedelta(hours=900 + at),
                idempotency_key=f"take-back-{at}-{target}",
                body=body,
            ),
        )
    # Ids follow arrival, as in the ledger; a correction names its target's new id.
    renumbered: list[Event] = []
    new_id = {}
    for n, e in enumerate(out, start=1):
        new_id[e.id] = n
        body = e.body
        if isinstance(body, Correction):
            body = Correction(retracts=new_id.get(body.retracts, n - 1), reason=body.reason)
        renumbered.append(msgspec.structs.replace(e, id=n, body=body))
    return renumbered


def recorded_one_by_one(events: list[Event]) -> tuple[FoldState, int]:
    """What the recording does: the stored state advanced by each new event, refolded
    from the ledger when it cannot be; stored and read back between events."""
    state, refolds, ledger = FoldState(), 0, []
    for event in events:
        ledger.append(event)
        state = read_back.decode(stored.encode(state))
        if not advance(state, event):
            state = fold_state(ledger)
            refolds += 1
        # As JSON, and after a trip through the store.
        full = spelled(fold_referral(ledger))
        assert spelled(finish(state)) == full, event.id
        assert spelled(finish(read_back.decode(stored.encode(state)))) == full, event.id
    return state, refolds


@settings(max_examples=300, deadline=None)
@given(
    logical=logical_events,
    data=st.data(),
    backs=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.booleans()), max_size=3),
)
def test_incremental_fold_is_the_full_fold(logical, data, backs):
    n = len(logical) + 2
    order = data.draw(st.permutations(range(n)))
    events = take_backs(arrive(logical, order), backs)
    recorded_one_by_one(events)


def test_in_order_events_never_refold():
    """The common case — each statement newer than the last — is applied, not refolded."""
    logical = [
        (Received(), Source.clinic_panel, 1),
        (Visited(), Source.clinic_panel, 5),
        (Completed(), Source.clinic_panel, 9),
    ]
    events = arrive(logical, list(range(len(logical) + 2)))
    _, refolds = recorded_one_by_one(events)
    assert refolds == 0


def test_a_late_statement_and_a_correction_refold():
    logical = [(Received(), Source.clinic_panel, 1), (Visited(), Source.clinic_panel, 5)]
    # The visit arrives before the receipt it follows: the receipt sorts earlier.
    late = arrive(logical, [0, 1, 3, 2])
    _, refolds = recorded_one_by_one(late)
    assert refolds == 1
    corrected = take_backs(arrive(logical, [0, 1, 2, 3]), [(4, 3, False)])
    _, refolds = recorded_one_by_one(corrected)
    assert refolds == 1


def test_times_keep_the_offset_they_were_stated_in():
    """A booking stated in Moscow time stays in Moscow time through the stored state (a
    question's subject names the appointment as the clinic stated it)."""
    msk = timezone(timedelta(hours=3))
    visit = Contacted(outcome="booked", appointment_at=datetime(2026, 12, 2, 15, 30, tzinfo=msk))
    events = arrive([(visit, Source.bitrix24, 1)], [0, 1, 2])
    state, _ = recorded_one_by_one(events)
    (appointment,) = finish(read_back.decode(stored.encode(state))).appointments
    assert appointment.starts_at.utcoffset() == timedelta(hours=3)


def test_a_state_of_another_version_is_not_advanced():
    events = arrive([], [0, 1])
    state = fold_state(events[:1])
    state.version = FOLD_VERSION + 1
    assert not advance(state, events[1])

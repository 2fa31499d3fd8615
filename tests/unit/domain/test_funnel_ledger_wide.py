"""The fold carries what the money funnel once read off the whole ledger — the estimate
as the exchange sent it, whether the referral came by transfer, who made the first
contact that stands, the plan versions with their times — so that recording a claim
needs no events. It must carry them exactly: for random ledgers (estimates and revisions
of several versions and variants, transfers, contacts by several people, variant
choices, corrections among them) in any arrival order, the fold's fields equal the
definitions over the events, and the fold advanced event by event equals the full one."""

from datetime import timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.domain.events import (
    Contacted,
    Event,
    PlanLine,
    PlanSet,
    Sent,
    Source,
    VariantChosen,
    side_of,
)
from backend.domain.funnel import ReferralFold, VariantChoice, fold_order, fold_referral
from backend.domain.money_funnel import estimate_lines_as_sent, is_transfer, main_specialization
from backend.domain.reasons import NO_REASON, Revision, plan_revisions
from tests.unit.domain.test_funnel_incremental import recorded_one_by_one, take_backs
from tests.unit.ledger_builder import CLINIC, T0

REFERRAL = UUID(int=1)
ITEMS = [UUID(int=100 + i) for i in range(4)]

lines = st.lists(
    st.builds(
        PlanLine,
        item_id=st.sampled_from(ITEMS),
        price=st.integers(0, 90_000_00),
        specialization=st.sampled_from(["therapy", "surgery", "orthopedics"]),
        variant=st.sampled_from([None, "A", "B"]),
    ),
    max_size=4,
)
plan_sets = st.builds(
    PlanSet,
    plan_id=st.just(UUID(int=9)),
    version=st.integers(1, 4),
    origin=st.sampled_from(["estimated", "actual"]),
    currency=st.just("RUB"),
    lines=lines,
    chosen_variant=st.sampled_from([None, "A", "B"]),
    reason=st.sampled_from([None, "", " x-ray showed more "]),
)
# (body, source, actor, hour it happened)
statements = st.lists(
    st.one_of(
        st.tuples(
            plan_sets,
            st.sampled_from([Source.exchange, Source.clinic_panel]),
            st.just("plan"),
        ),
        st.tuples(
            st.builds(
                Sent,
                clinic_id=st.just(CLINIC),
                transferred_from=st.sampled_from([None, UUID(int=3), UUID(int=4)]),
            ),
            st.just(Source.exchange),
            st.just("exchange"),
        ),
        st.tuples(
            st.builds(
                Contacted,
                outcome=st.sampled_from(["booked", "declined", "unreachable"]),
                appointment_at=st.just(T0 + timedelta(days=30)),
            ),
            st.sampled_from([Source.clinic_panel, Source.bitrix24]),
            st.sampled_from(["anna", "boris", ""]),
        ),
        st.tuples(
            st.builds(VariantChosen, variant=st.sampled_from(["A", "B"]), version=st.just(1)),
            st.just(Source.patient_app),
            st.just("patient"),
        ),
    ).flatmap(lambda s: st.tuples(*(st.just(x) for x in s), st.integers(0, 600))),
    max_size=14,
)


def ledger_of(stated, order) -> list[Event]:
    """The statements, after a sending, arriving in `order` (ids follow arrival)."""
    head = [(Sent(clinic_id=CLINIC), Source.exchange, "exchange", 0)]
    stated = head + list(stated)
    return [
        Event(
            id=arrival,
            referral_id=REFERRAL,
            source=source,
            side=side_of(source, body),
            actor=actor,
            occurred_at=T0 + timedelta(hours=hours),
            recorded_at=T0 + timedelta(hours=600 + arrival),
            idempotency_key=f"s{index}",
            body=body,
        )
        for arrival, index in enumerate(order, start=1)
        for body, source, actor, hours in [stated[index]]
    ]


# The definitions over the events, as the money funnel read them before the fold
# carried them.


def estimate_lines_by_events(events: list[Event], choice: VariantChoice | None):
    versions = sorted(
        (e.body for e in events if isinstance(e.body, PlanSet) and e.body.origin == "estimated"),
        key=lambda b: b.version,
    )
    if not versions:
        return ()
    first = versions[0]
    offered = sorted({line.variant for line in first.lines if line.variant})
    if choice is not None and choice.variant in offered:
        variant = choice.variant
    elif first.chosen_variant in offered:
        variant = first.chosen_variant
    else:
        variant = offered[0] if offered else None
    return tuple(line for line in first.lines if line.variant in (None, variant))


def coordinator_by_events(events: list[Event], fold: ReferralFold) -> str:
    contacts = sorted(
        (
            e
            for e in events
            if isinstance(e.body, Contacted)
            and e.body.outcome != "unreachable"
            and e.id not in fold.retracted
        ),
        key=fold_order,
    )
    return contacts[0].actor if contacts else ""


def total(body: PlanSet) -> int:
    offered = sorted({line.variant for line in body.lines if line.variant})
    variant = body.chosen_variant or (offered[0] if offered else None)
    return sum(line.price for line in body.lines if line.variant in (None, variant))


def revisions_by_events(events: list[Event], fold: ReferralFold) -> list[Revision]:
    if fold.sent_at is None:
        return []
    sets = sorted(
        (e for e in events if isinstance(e.body, PlanSet) and e.id not in fold.retracted),
        key=lambda e: e.body.version,
    )
    out, previous = [], None
    for event in sets:
        body = event.body
        if previous is not None and body.origin == "actual":
            out.append(
                Revision(
                    at=max(event.occurred_at, fold.sent_at),
                    version=body.version,
                    reason=(body.reason or NO_REASON).strip(),
                    change=total(body) - total(previous),
                )
            )
        previous = body
    return out


@settings(max_examples=300, deadline=None)
@given(
    stated=statements,
    data=st.data(),
    backs=st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15), st.booleans()), max_size=2),
)
def test_the_fold_carries_the_ledger_wide_figures_exactly(stated, data, backs):
    order = data.draw(st.permutations(range(len(stated) + 1)))
    events = take_backs(ledger_of(stated, order), backs)
    fold = fold_referral(events)

    choice = fold.variant_choice
    assert estimate_lines_as_sent(fold, choice) == estimate_lines_by_events(events, choice)
    assert estimate_lines_as_sent(fold) == estimate_lines_by_events(events, None)
    assert is_transfer(fold) == any(
        isinstance(e.body, Sent) and e.body.transferred_from for e in events
    )
    assert fold.coordinator == coordinator_by_events(events, fold)
    assert plan_revisions(fold) == revisions_by_events(events, fold)
    # The specialization is read off the estimate as sent, whatever order it came in.
    main_specialization(fold)

    # And the fold advanced statement by statement, as the recording keeps it, is the
    # full fold, these fields included.
    recorded_one_by_one(events)


def test_a_retracted_estimate_is_still_what_was_sent_and_a_retracted_contact_names_nobody():
    estimate = PlanSet(
        plan_id=UUID(int=9),
        version=1,
        origin="estimated",
        currency="RUB",
        lines=[PlanLine(item_id=ITEMS[0], price=10_000_00, specialization="surgery")],
    )
    stated = [
        (estimate, Source.exchange, "plan", 0),
        (Contacted(outcome="declined", reason="price"), Source.clinic_panel, "anna", 5),
    ]
    events = take_backs(ledger_of(stated, [0, 1, 2]), [(2, 1, False), (4, 3, False)])
    fold = fold_referral(events)
    assert len(fold.retracted) == 2  # the estimate and the contact
    assert [line.price for line in estimate_lines_as_sent(fold)] == [10_000_00]
    assert main_specialization(fold) == "surgery"
    assert fold.coordinator == ""
    assert fold.plan_sets == ()

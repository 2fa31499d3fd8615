"""Ledger events (events): which side each source speaks for (docs/domain.md's table),
the demo's borrowed voice, event kinds, and bodies as the API and the CRMs speak them."""

from datetime import UTC, datetime
from uuid import UUID

import msgspec
import pytest

from backend.domain.events import (
    CLINIC_CLAIM_KINDS,
    PATIENT_KINDS,
    Body,
    Closed,
    Contacted,
    Correction,
    EventBody,
    ItemDone,
    PatientAnswer,
    PlanLine,
    PlanSet,
    Sent,
    Side,
    Source,
    VariantChosen,
    body_decoder,
    body_encoder,
    kind_of,
    side_of,
)
from tests.unit.ledger_builder import CLINIC, Ledger

CLINIC_SOURCES = (
    Source.clinic_panel,
    Source.bitrix24,
    Source.amocrm,
    Source.mis_webhook,
    Source.ident,
)


def plan(origin: str) -> PlanSet:
    return PlanSet(
        plan_id=UUID(int=9),
        version=1,
        origin=origin,
        currency="RUB",
        lines=[PlanLine(item_id=UUID(int=1), price=100, specialization="therapy")],
    )


def test_each_source_speaks_for_the_side_docs_domain_md_names():
    assert {s: s.side for s in Source} == {
        **dict.fromkeys(CLINIC_SOURCES, Side.clinic),
        Source.patient_app: Side.patient,
        Source.patient_sms: Side.patient,
        Source.exchange: Side.exchange,
        Source.system: Side.system,
        Source.demo: Side.system,
    }


def test_a_real_source_speaks_for_its_own_side_whatever_it_says():
    # The patient cannot become the clinic by sending a clinic's kind of event.
    assert side_of(Source.patient_app, ItemDone(item_id=UUID(int=1))) is Side.patient
    assert (
        side_of(
            Source.bitrix24,
            PatientAnswer(question_id=UUID(int=5), milestone="contacted", answer="yes"),
        )
        is Side.clinic
    )
    assert side_of(Source.exchange, plan("actual")) is Side.exchange


@pytest.mark.parametrize(
    "body, side",
    [
        (ItemDone(item_id=UUID(int=1)), Side.clinic),
        (Closed(reason="moved"), Side.clinic),
        (PatientAnswer(question_id=UUID(int=5), milestone="visited", answer="no"), Side.patient),
        (VariantChosen(variant="A", version=1), Side.patient),
        (plan("actual"), Side.clinic),  # the clinic's own plan
        (plan("estimated"), Side.exchange),  # the exchange's estimate
        (Sent(clinic_id=CLINIC), Side.exchange),
        (Correction(retracts=1, reason="typo"), Side.exchange),
    ],
)
def test_demo_data_speaks_for_whoever_would_have_said_it(body, side):
    assert side_of(Source.demo, body) is side


def test_clinic_claims_and_patient_statements_are_apart_and_named_by_their_tags():
    assert not CLINIC_CLAIM_KINDS & PATIENT_KINDS
    assert {"received", "contacted", "item_done", "payment", "completed", "closed"} <= (
        CLINIC_CLAIM_KINDS
    )
    assert {"patient_answer", "patient_report", "contact_rating", "receipt"} <= PATIENT_KINDS
    for kind in ("sent", "plan_set", "correction", "resolution", "transferred"):
        assert kind not in CLINIC_CLAIM_KINDS | PATIENT_KINDS


def test_the_kind_of_a_body_is_its_tag():
    assert kind_of(Contacted(outcome="unreachable")) == "contacted"
    ledger = Ledger()
    event = ledger.add(ItemDone(item_id=UUID(int=1)), hours=0)
    assert event.kind == "item_done"
    assert event.side is Side.clinic


def test_every_body_kind_is_unique():
    tags = [t.__struct_config__.tag for t in EventBody.__args__]
    assert len(tags) == len(set(tags))
    assert all(issubclass(t, Body) for t in EventBody.__args__)


def test_a_body_goes_out_and_comes_back_the_same():
    at = datetime(2026, 11, 3, 9, tzinfo=UTC)
    body = Contacted(outcome="booked", appointment_at=at, appointment_id=UUID(int=77))
    wire = body_encoder.encode(body)
    assert msgspec.json.decode(wire)["kind"] == "contacted"
    assert body_decoder.decode(wire) == body
    assert body_decoder.decode(body_encoder.encode(plan("actual"))) == plan("actual")


@pytest.mark.parametrize(
    "wire",
    [
        b'{"kind": "contacted", "outcome": "maybe"}',  # exactly one of three outcomes
        b'{"kind": "contacted", "outcome": "booked", "colour": "red"}',  # no unknown fields
        b'{"kind": "teleported"}',  # no unknown kinds
        b'{"outcome": "booked"}',  # a body says what it is
        b'{"kind": "patient_answer", "question_id": "00000000-0000-0000-0000-000000000005",'
        b' "milestone": "visited", "answer": "perhaps"}',
        b'{"kind": "payment", "amount": "100"}',
    ],
)
def test_a_body_outside_the_vocabulary_is_refused(wire):
    with pytest.raises(msgspec.ValidationError):
        body_decoder.decode(wire)

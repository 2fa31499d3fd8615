"""The events a medical information system sends (mis_events), decoded as
docs/mis-webhooks.md describes them: every type of its table, and what is refused."""

import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import msgspec
import pytest

from backend.domain import mis_events as mis

REFERRAL = "0b8e6a4e-2f0c-4d1e-9a51-6c1f3e7b2a90"
ITEM = "00000000-0000-0000-0000-000000000001"
STAMP = "2026-11-18T15:40:00+03:00"
decoder = msgspec.json.Decoder(mis.MisEvent)


def event(type_: str, **data) -> bytes:
    return json.dumps(
        {"type": type_, "timestamp": STAMP, "data": {"referral_id": REFERRAL, **data}}
    ).encode()


def decode(type_: str, **data):
    return decoder.decode(event(type_, **data))


def refused(type_: str, **data) -> str:
    with pytest.raises(msgspec.ValidationError) as caught:
        decode(type_, **data)
    return str(caught.value)


PLAN_ITEM = {"specialization": "therapy", "price": 1_000_00}


@pytest.mark.parametrize(
    "type_, data, cls",
    [
        ("appointment.booked", {"appointment_at": STAMP}, mis.AppointmentBooked),
        ("appointment.moved", {"appointment_at": STAMP}, mis.AppointmentMoved),
        ("appointment.cancelled", {}, mis.AppointmentCancelled),
        ("appointment.cancelled", {"reason": "ill"}, mis.AppointmentCancelled),
        ("visit.happened", {}, mis.VisitHappened),
        ("visit.no_show", {}, mis.VisitNoShow),
        ("item.done", {"item_id": ITEM}, mis.ItemDone),
        ("payment.received", {"amount": 1}, mis.PaymentReceived),
        ("plan.completed", {}, mis.PlanCompleted),
        ("plan.closed", {"reason": "moved away"}, mis.PlanClosed),
        ("plan.revised", {"reason": "x-ray", "items": [PLAN_ITEM]}, mis.PlanRevised),
        ("item.cancelled", {"item_id": ITEM}, mis.ItemCancelled),
    ],
)
def test_every_type_in_the_guides_table_decodes(type_, data, cls):
    got = decode(type_, **data)
    assert type(got) is cls
    assert got.data.referral_id == UUID(REFERRAL)
    assert got.timestamp == datetime(2026, 11, 18, 12, 40, tzinfo=UTC)


def test_the_guides_own_example_decodes():
    body = (
        b'{"type": "visit.happened", "timestamp": "2026-11-18T15:40:00+03:00",\n'
        b' "data": {"referral_id": "0b8e6a4e-2f0c-4d1e-9a51-6c1f3e7b2a90"}}'
    )
    got = decoder.decode(body)
    assert isinstance(got, mis.VisitHappened) and got.data.occurred_at is None


def test_the_type_tags_are_the_ones_the_guide_names():
    tags = {t.__struct_config__.tag for t in mis.MisEvent.__args__}
    assert tags == {
        "appointment.booked",
        "appointment.moved",
        "appointment.cancelled",
        "visit.happened",
        "visit.no_show",
        "item.done",
        "payment.received",
        "plan.completed",
        "plan.closed",
        "plan.revised",
        "item.cancelled",
    }


def test_when_it_happened_keeps_its_offset():
    got = decode("visit.happened", occurred_at="2026-11-18T09:00:00+07:00")
    assert got.data.occurred_at == datetime(2026, 11, 18, 9, tzinfo=timezone(timedelta(hours=7)))


def test_an_unknown_type_is_refused():
    with pytest.raises(msgspec.ValidationError):
        decode("visit.rescheduled")


def test_a_field_outside_the_schema_is_refused_so_a_typo_does_not_pass():
    assert "occured_at" in refused("visit.happened", occured_at=STAMP)
    with pytest.raises(msgspec.ValidationError):
        decoder.decode(
            json.dumps(
                {
                    "type": "visit.happened",
                    "timestamp": STAMP,
                    "data": {"referral_id": REFERRAL},
                    "extra": 1,
                }
            ).encode()
        )
    item = {**PLAN_ITEM, "colour": "white"}
    assert "colour" in refused("plan.revised", reason="x", items=[item])


@pytest.mark.parametrize(
    "type_, data",
    [
        ("appointment.booked", {}),  # the time it is booked for
        ("item.done", {}),
        ("payment.received", {}),
        ("plan.closed", {}),  # a closing says why
        ("plan.revised", {"items": [PLAN_ITEM]}),  # a revision says why
        ("plan.revised", {"reason": "x"}),
    ],
)
def test_what_the_guide_requires_must_be_there(type_, data):
    refused(type_, **data)


def test_the_referral_id_must_be_plantracks_uuid():
    with pytest.raises(msgspec.ValidationError):
        decoder.decode(
            json.dumps(
                {"type": "visit.happened", "timestamp": STAMP, "data": {"referral_id": "42"}}
            ).encode()
        )


@pytest.mark.parametrize("amount", [0, -1, 100_000_000_00 + 1])
def test_a_payment_is_more_than_nothing_and_at_most_a_hundred_million(amount):
    refused("payment.received", amount=amount)


def test_the_largest_payment_is_allowed():
    assert decode("payment.received", amount=100_000_000_00).data.amount == 100_000_000_00


@pytest.mark.parametrize("reason", ["", "x" * 501])
def test_a_reason_is_one_to_five_hundred_characters(reason):
    refused("plan.closed", reason=reason)
    refused("appointment.cancelled", reason=reason)


def test_a_revised_plan_has_one_to_two_hundred_items():
    refused("plan.revised", reason="x", items=[])
    refused("plan.revised", reason="x", items=[PLAN_ITEM] * 201)
    assert len(decode("plan.revised", reason="x", items=[PLAN_ITEM] * 200).data.items) == 200


@pytest.mark.parametrize(
    "bad",
    [
        {"specialization": "cosmetics"},
        {"price": -1},
        {"price": 100_000_000_00 + 1},
        {"tooth": 10},
        {"tooth": 86},
        {"stage": 0},
        {"stage": 21},
        {"variant": "a"},
        {"variant": "AB"},
        {"chair_minutes": -1},
        {"course_days": 2_001},
        {"title_ru": "я" * 301},
        {"code": "c" * 33},
    ],
)
def test_a_plan_item_out_of_bounds_is_refused(bad):
    refused("plan.revised", reason="x", items=[{**PLAN_ITEM, **bad}])


def test_a_plan_item_at_its_bounds_is_taken_with_the_defaults():
    edge = {**PLAN_ITEM, "price": 0, "tooth": 85, "stage": 20, "variant": "Z", "course_days": 0}
    got = decode("plan.revised", reason="x", items=[edge, PLAN_ITEM], chosen_variant="Z")
    first, plain = got.data.items
    assert (first.price, first.tooth, first.stage, first.variant) == (0, 85, 20, "Z")
    assert (plain.stage, plain.variant, plain.item_id, plain.title_ru) == (1, None, None, "")
    assert plain.specialization is mis.Specialization.therapy
    assert got.data.chosen_variant == "Z"
    refused("plan.revised", reason="x", items=[PLAN_ITEM], chosen_variant="z")


@pytest.mark.parametrize("tooth", [19, 50])
def test_a_tooth_that_is_no_fdi_number_is_refused_at_the_door(tooth):
    refused("plan.revised", reason="x", items=[{**PLAN_ITEM, "tooth": tooth}])

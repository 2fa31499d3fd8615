"""How a clinic's system is connected (backend.domain.integration_settings): stage maps
checked, settings split from secrets, what only a person could get wrong refused."""

import msgspec
import pytest

from backend.domain.integration_settings import (
    BadSettings,
    IntegrationIn,
    split,
    validate_stage_map,
)

BITRIX_KEYS = r"(LEAD:|C\d+:)?[A-Z0-9_]+"


def bitrix(**extra) -> IntegrationIn:
    body = {
        "system": "bitrix24",
        "rest_url": "https://clinic.bitrix24.ru/rest/1/abcdefgh/",
        "application_token": "app-token-123",
        "stage_map": {"C1:NEW": {"kind": "received"}},
        **extra,
    }
    return msgspec.convert(body, IntegrationIn)


def test_a_stage_map_keeps_the_kinds_a_whole_deal_can_be_in():
    checked = validate_stage_map(
        {
            "C1:NEW": {"kind": "received"},
            "C1:LOSE": {"kind": "closed", "reason": "отказ"},
            "LEAD:JUNK": {"kind": "contacted", "outcome": "declined"},
        },
        BITRIX_KEYS,
    )
    assert checked["C1:LOSE"] == {"kind": "closed", "reason": "отказ", "occurred_at": None}
    assert checked["LEAD:JUNK"]["outcome"] == "declined"


@pytest.mark.parametrize(
    ("stage_map", "says"),
    [
        ({"c1:new": {"kind": "received"}}, "not a stage key"),
        ({"C1:PAID": {"kind": "payment", "amount": 100}}, "cannot stand for 'payment'"),
        ({"C1:NEW": {"kind": "teleported"}}, "stage_map['C1:NEW']"),
        ({"C1:NEW": {"kind": "received", "occurred_at": "2026-01-01T10:00:00Z"}}, "from the CRM"),
        ({"C1:DONE": {"kind": "item_done", "items": "some"}}, '"all" or "listed"'),
        ({"C1:DONE": {"kind": "item_done", "item_id": "x"}}, '"all" or "listed"'),
    ],
)
def test_a_stage_map_refuses_what_no_stage_can_mean(stage_map, says):
    with pytest.raises(BadSettings, match=None) as refused:
        validate_stage_map(stage_map, BITRIX_KEYS)
    assert says in str(refused.value)


def test_items_done_by_a_stage_default_to_the_listed_rows():
    checked = validate_stage_map({"C1:DONE": {"kind": "item_done"}}, BITRIX_KEYS)
    assert checked == {"C1:DONE": {"kind": "item_done", "items": "listed"}}


def test_split_keeps_the_secrets_apart_from_the_settings():
    system, settings, secrets = split(bitrix(member_id="m-1"))
    assert system == "bitrix24"
    assert set(secrets) == {"rest_url", "application_token"}
    assert settings["member_id"] == "m-1" and "rest_url" not in settings
    assert settings["stage_map"] == {"C1:NEW": {"kind": "received", "occurred_at": None}}


def test_a_booking_stage_needs_the_field_that_holds_the_visits_time():
    booking = {"C1:BOOKED": {"kind": "contacted", "outcome": "booked"}}
    with pytest.raises(BadSettings, match=r"fields\.appointment_at"):
        split(bitrix(stage_map=booking))
    _, settings, _ = split(bitrix(stage_map=booking, fields={"appointment_at": "UF_CRM_AT"}))
    assert settings["fields"]["appointment_at"] == "UF_CRM_AT"


def test_payments_read_two_ways_at_once_are_refused():
    with pytest.raises(BadSettings, match="count twice"):
        split(bitrix(read_payments=True, fields={"paid_amount": "UF_CRM_PAID"}))


def test_amocrm_stage_keys_are_pipeline_and_status_ids():
    body = {
        "system": "amocrm",
        "base_url": "https://clinic.amocrm.ru",
        "account_id": "31",
        "access_token": "long-lived-token",
        "pipeline_id": "7",
        "stage_map": {"7:142": {"kind": "completed"}},
    }
    system, settings, secrets = split(msgspec.convert(body, IntegrationIn))
    assert (system, list(settings["stage_map"]), list(secrets)) == (
        "amocrm",
        ["7:142"],
        ["access_token"],
    )
    body["stage_map"] = {"C1:NEW": {"kind": "received"}}
    with pytest.raises(BadSettings, match="not a stage key"):
        split(msgspec.convert(body, IntegrationIn))


def test_an_mis_and_ident_have_nothing_to_set():
    for system in ("webhook", "ident"):
        assert split(msgspec.convert({"system": system}, IntegrationIn)) == (system, {}, {})

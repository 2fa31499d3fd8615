"""What the amoCRM adapter reads from an account's payloads (backend.integrations.amocrm):
custom fields by id or code, their times, our tag, the leads a webhook names."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from backend.integrations import amocrm
from backend.integrations.base import MalformedDelivery

MSK = timezone(timedelta(hours=3))


LEAD = {
    "id": 5,
    "custom_fields_values": [
        {"field_id": 101, "field_code": None, "values": [{"value": "45000"}]},
        {"field_id": 102, "field_code": "VISIT_AT", "values": [{"value": 1772719200}]},
        {"field_id": 103, "field_code": None, "values": [{"value": "2026-03-05T14:00:00"}]},
        {"field_id": 104, "field_code": "DONE", "values": [{"value": "a"}, {"value": "b"}]},
    ],
    "_embedded": {"tags": [{"id": 1, "name": "plantrack"}]},
}


def test_an_amocrm_field_is_found_by_its_id_or_its_code():
    assert amocrm._field_values(LEAD, "101") == ["45000"]
    assert amocrm._field_values(LEAD, "DONE") == ["a", "b"]
    assert amocrm._field_values(LEAD, "999") == []
    assert amocrm._field_values({}, "101") == []


def test_an_amocrm_time_is_a_unix_time_or_iso_text_in_the_clinics_zone():
    config = {"timezone": "Europe/Moscow"}
    assert amocrm._field_time(LEAD, "VISIT_AT", config) == datetime.fromtimestamp(1772719200, UTC)
    assert amocrm._field_time(LEAD, "103", config) == datetime(2026, 3, 5, 14, tzinfo=MSK)
    assert amocrm._field_time(LEAD, "101", config) == datetime.fromtimestamp(45000, UTC)
    assert amocrm._field_time(LEAD, None, config) is None
    assert amocrm._field_time(LEAD, "999", config) is None


def test_a_lead_is_ours_by_its_tag():
    assert amocrm._ours(LEAD)
    assert not amocrm._ours({"_embedded": {"tags": [{"name": "другое"}]}})
    assert not amocrm._ours({})


def test_an_amocrm_webhook_names_each_lead_once_whatever_happened_to_it():
    form = {
        "leads": {
            "status": {"0": {"id": "7"}, "1": {"id": "8"}},
            "update": {"0": {"id": "7"}},
            "delete": {"0": {"id": "9"}},  # nothing to record
        }
    }
    assert amocrm._lead_ids(form) == ["7", "8"]
    assert amocrm._lead_ids({"account": {}}) == []
    with pytest.raises(MalformedDelivery, match="numeric id"):
        amocrm._lead_ids({"leads": {"add": {"0": {"id": "seven"}}}})

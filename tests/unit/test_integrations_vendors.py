"""What each adapter reads from its vendor's payloads, without a network: Bitrix24's
times and list fields, amoCRM's custom fields and webhook forms, IDENT's query, an MIS
event as a claim (backend.integrations.bitrix24, amocrm, ident, mis_webhooks)."""

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import msgspec
import pytest

from backend.domain.claims import AppointmentCancelledIn, ContactedIn, PaymentIn
from backend.domain.mis_events import MisEvent
from backend.integrations import amocrm, bitrix24, ident, mis_webhooks
from backend.integrations.base import MalformedDelivery

MSK = timezone(timedelta(hours=3))


# --- Bitrix24 --------------------------------------------------------------------------


def test_a_bitrix24_time_without_an_offset_is_the_clinics():
    assert bitrix24.parse_time("2026-03-05T14:00:00+03:00", "UTC") == datetime(
        2026, 3, 5, 14, tzinfo=MSK
    )
    bare = bitrix24.parse_time("2026-03-05T14:00:00", "Asia/Novosibirsk")
    assert bare is not None and bare.utcoffset() == timedelta(hours=7)
    assert bitrix24.parse_time("", "UTC") is None
    assert bitrix24.parse_time("вчера", "UTC") is None
    assert bitrix24.parse_time(17, "UTC") is None


def test_the_done_rows_field_is_a_list_or_one_text_split_by_lines_or_semicolons():
    assert bitrix24._listed(["Пломба", " 38 ", ""]) == ("Пломба", "38")
    assert bitrix24._listed("Пломба; Гигиена\nУдаление 38") == (
        "Пломба",
        "Гигиена",
        "Удаление 38",
    )
    assert bitrix24._listed(None) == () and bitrix24._listed(False) == ()


def test_a_deal_is_ours_when_we_made_it_and_names_a_referral():
    rid = uuid4()
    assert bitrix24._our_referral({"ORIGINATOR_ID": "plantrack", "ORIGIN_ID": str(rid)}) == rid
    assert bitrix24._our_referral({"ORIGINATOR_ID": "other", "ORIGIN_ID": str(rid)}) is None
    assert bitrix24._our_referral({"ORIGINATOR_ID": "plantrack", "ORIGIN_ID": "7"}) is None


def test_a_products_code_is_its_code_else_its_external_id():
    assert bitrix24._code({"CODE": " A16.07.002 ", "XML_ID": "x"}) == "A16.07.002"
    assert bitrix24._code({"CODE": "", "XML_ID": "A16.07.001"}) == "A16.07.001"
    assert bitrix24._code({}) == ""


# --- amoCRM ----------------------------------------------------------------------------

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


# --- IDENT -----------------------------------------------------------------------------


def test_idents_query_is_read_as_its_installations_write_it():
    start, end, limit, offset = ident.parse_query(
        {
            "DateTimeFrom": "2025-01-05T14:45:37 0300",  # "+" unescaped, colon dropped
            "datetimeto": "2025-01-06T00:00:00",
            "LIMIT": "5000",
        }
    )
    assert start == datetime(2025, 1, 5, 14, 45, 37, tzinfo=MSK)
    assert end == datetime(2025, 1, 6, tzinfo=UTC)
    assert (limit, offset) == (ident.MAX_LIMIT, 0)
    assert ident.parse_query({}) == (None, None, ident.DEFAULT_LIMIT, 0)


@pytest.mark.parametrize(
    "params",
    [{"dateTimeFrom": "yesterday"}, {"limit": "ten"}, {"limit": "0"}, {"offset": "-1"}],
)
def test_a_query_ident_could_not_mean_is_refused(params):
    with pytest.raises(ident.BadQuery):
        ident.parse_query(params)


def test_a_referral_as_an_ident_ticket():
    rid = uuid4()
    row = {
        "id": rid,
        "sent_at": datetime(2026, 3, 2, 6, 30, 15, 123, tzinfo=UTC),
        "phone": "+79161234567",
        "name": "Анна Иванова",
        "invite_code": "K7Q2",
        "currency": "RUB",
        "estimated_amount": 14_000_00,
    }
    ticket = ident.ticket(row, "Пломба; Гигиена", "Europe/Moscow")
    assert ticket["Id"] == str(rid) and ticket["DateAndTime"] == "2026-03-02T09:30:15+03:00"
    assert ticket["ClientPhone"] == "+79161234567" and ticket["FormName"] == ident.FORM_NAME
    assert "K7Q2" in ticket["Comment"] and "Пломба; Гигиена" in ticket["Comment"]
    assert "14" in ticket["Comment"] and "₽" in ticket["Comment"]


# --- MIS webhooks ----------------------------------------------------------------------


def mis(kind: str, **data) -> MisEvent:
    body = {"type": kind, "timestamp": "2026-03-02T09:30:00+00:00", "data": data}
    return msgspec.convert(body, MisEvent)


def test_an_mis_event_is_the_claim_the_panel_would_record():
    rid = str(uuid4())
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    moved = mis("appointment.moved", referral_id=rid, appointment_at="2026-03-05T14:00:00Z")
    assert mis_webhooks.to_claim(moved) == ContactedIn(
        outcome="booked", appointment_at=datetime(2026, 3, 5, 14, tzinfo=UTC), occurred_at=at
    )
    paid = mis(
        "payment.received", referral_id=rid, amount=500_00, occurred_at="2026-03-01T10:00:00Z"
    )
    assert mis_webhooks.to_claim(paid) == PaymentIn(
        amount=500_00, occurred_at=datetime(2026, 3, 1, 10, tzinfo=UTC)
    )
    cancelled = mis("appointment.cancelled", referral_id=rid)
    assert mis_webhooks.to_claim(cancelled) == AppointmentCancelledIn(occurred_at=at)


def test_an_mis_body_that_is_no_event_is_said_while_the_sender_waits():
    adapter = mis_webhooks.MisWebhooks()
    event = {"type": "visit.happened", "timestamp": "2026-03-02T09:30:00Z"}
    body = msgspec.json.encode({**event, "data": {"referral_id": str(uuid4())}})
    assert adapter.check(body) is None
    problem = adapter.check(b'{"type": "visit.teleported", "timestamp": "x", "data": {}}')
    assert problem is not None and "type" in problem

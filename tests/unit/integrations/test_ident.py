"""IDENT's side of the exchange (backend.integrations.ident): its query as its
installations write it, a referral as a ticket."""

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from uuid import uuid4

import pytest

from backend.integrations import ident

MSK = timezone(timedelta(hours=3))


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
    row = SimpleNamespace(
        id=rid,
        sent_at=datetime(2026, 3, 2, 6, 30, 15, 123, tzinfo=UTC),
        phone="+79161234567",
        name="Анна Иванова",
        invite_code="K7Q2",
        currency="RUB",
        estimated_amount=14_000_00,
    )
    ticket = ident.ticket(row, "Пломба; Гигиена", "Europe/Moscow")
    assert ticket["Id"] == str(rid) and ticket["DateAndTime"] == "2026-03-02T09:30:15+03:00"
    assert ticket["ClientPhone"] == "+79161234567" and ticket["FormName"] == ident.FORM_NAME
    assert "K7Q2" in ticket["Comment"] and "Пломба; Гигиена" in ticket["Comment"]
    assert "14" in ticket["Comment"] and "₽" in ticket["Comment"]

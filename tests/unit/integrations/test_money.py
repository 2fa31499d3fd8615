"""Money as the CRMs write it, into minor units (backend.integrations.money): never a
float on our side, and an amount finer than the currency's minor unit refused."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.integrations.money import BadMoney, bitrix_money, decimal_of, minor_units


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("45000", Decimal("45000")),
        (45000, Decimal("45000")),
        ("45 000,50", Decimal("45000.50")),
        ("45\u00a0000.5", Decimal("45000.5")),
        (0.1, Decimal("0.1")),
    ],
)
def test_a_vendors_number_is_read_through_its_text(value, expected):
    assert decimal_of(value) == expected


@pytest.mark.parametrize("value", [None, True, "", "abc", "-5", "NaN", "Infinity"])
def test_what_is_no_amount_is_refused(value):
    with pytest.raises(BadMoney):
        decimal_of(value)


def test_minor_units_refuse_a_fraction_of_a_kopeck_unless_rounding_is_asked():
    assert minor_units("45000.50", "RUB") == 4_500_050
    with pytest.raises(BadMoney, match="whole number of minor units"):
        minor_units("10.005", "RUB")
    assert minor_units("10.005", "RUB", rounding=True) == 1001
    assert minor_units("1500", "JPY") == 1500  # a currency without minor units


def test_more_than_one_payment_can_hold_is_refused():
    with pytest.raises(BadMoney, match="more than plantrack records"):
        minor_units("100000001", "RUB")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("45000|RUB", (4_500_000, "RUB")),
        ("45000.50|rub", (4_500_050, "RUB")),
        (" 1 200 | USD ", (120_000, "USD")),
        (["700|RUB"], (70_000, "RUB")),
        ("", None),
        (None, None),
        ([], None),
    ],
)
def test_a_bitrix24_money_field_is_amount_and_currency(value, expected):
    assert bitrix_money(value) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("45000", "amount|currency"),
        ("RUB|45000", "amount|currency"),
        (["1|RUB", "2|RUB"], "multiple money field"),
    ],
)
def test_a_bitrix24_money_field_that_is_not_one_is_refused(value, says):
    with pytest.raises(BadMoney, match=None) as refused:
        bitrix_money(value)
    assert says in str(refused.value)


@given(st.integers(min_value=0, max_value=100_000_000_00))
def test_kopecks_written_as_rubles_come_back_the_same(kopecks):
    text = f"{kopecks // 100}.{kopecks % 100:02d}"
    assert minor_units(text, "RUB") == kopecks
    assert bitrix_money(f"{text}|RUB") == (kopecks, "RUB")

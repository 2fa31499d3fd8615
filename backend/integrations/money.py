"""Money as the CRMs write it, into minor units: Bitrix24's money fields ("45000|RUB",
"45000.50|RUB"), its doubles (OPPORTUNITY, row prices), amoCRM's numbers ("45000",
45000, 45000.5). Never floats on our side: a value goes through its decimal text, and
an amount that is not a whole number of the currency's minor units is refused, not
rounded away."""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision

MAX_AMOUNT = 100_000_000_00  # the ledger's bound on one payment, in minor units


class BadMoney(ValueError):
    pass


def decimal_of(value: Any) -> Decimal:
    """A vendor's number (int, float, or its text with a comma or spaces) as a Decimal."""
    if isinstance(value, bool) or value is None:
        raise BadMoney(f"{value!r} is not an amount")
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise BadMoney(f"{value!r} is not an amount") from exc
    if not number.is_finite() or number < 0:
        raise BadMoney(f"{value!r} is not an amount")
    return number


def minor_units(value: Any, currency: str, *, rounding: bool = False) -> int:
    """`value` major units of `currency` in minor units. A row's price × quantity may
    need rounding to the kopeck (`rounding`); an amount someone typed may not."""
    digits = get_currency_precision(currency)
    scaled = decimal_of(value) * (10**digits)
    whole = scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if whole != scaled and not rounding:
        raise BadMoney(f"{value} {currency} is not a whole number of minor units")
    if whole > MAX_AMOUNT:
        raise BadMoney(f"{value} {currency} is more than plantrack records at once")
    return int(whole)


_BITRIX_MONEY = re.compile(r"^\s*([0-9][0-9\s.,]*)\s*\|\s*([A-Za-z]{3})\s*$")


def bitrix_money(value: Any) -> tuple[int, str] | None:
    """A Bitrix24 money field ("45000|RUB") as (minor units, currency); None if empty."""
    if value in (None, "", [], False):
        return None
    if isinstance(value, list):
        if len(value) != 1:
            raise BadMoney("a multiple money field: plantrack reads one amount paid")
        value = value[0]
    match = _BITRIX_MONEY.match(str(value))
    if match is None:
        raise BadMoney(f"{value!r} is not a Bitrix24 money value (amount|currency)")
    currency = match.group(2).upper()
    try:
        return minor_units(match.group(1), currency), currency
    except ValueError as exc:  # babel: an unknown currency code
        raise BadMoney(f"{value!r}: {exc}") from exc

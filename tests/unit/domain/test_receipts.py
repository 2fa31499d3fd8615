"""Receipts (backend.domain.receipts): fiscal QR codes parsed or refused with a reason, and
paired with the clinic's reported payments."""

from datetime import UTC, datetime, timedelta
from itertools import permutations
from zoneinfo import ZoneInfo

import pytest

from backend.domain.receipts import (
    BadReceipt,
    PaymentRef,
    ReceiptRef,
    match_receipt,
    match_receipts,
    parse_receipt_qr,
)

T = datetime(2026, 11, 5, 10, tzinfo=UTC)


def pay(n: int, amount: int, hours: float = 0) -> PaymentRef:
    return PaymentRef(event_id=n, amount=amount, occurred_at=T + timedelta(hours=hours))


def receipt(n: int, amount: int, hours: float = 0) -> ReceiptRef:
    return ReceiptRef(event_id=n, amount=amount, issued_at=T + timedelta(hours=hours))


def outcomes(receipts, payments) -> dict[int, tuple[str, int | None]]:
    return {
        k: (m.outcome, m.payment_event_id) for k, m in match_receipts(receipts, payments).items()
    }


def test_same_amounts_pair_first_then_the_nearest_payment_left():
    payments = (pay(1, 6_500_00), pay(2, 10_000_00, hours=2))
    receipts = (receipt(10, 10_000_00, hours=0.5), receipt(11, 6_000_00, hours=2))
    # 10 pairs with payment 2 by amount although payment 1 is nearer; 11 gets what is left.
    assert outcomes(receipts, payments) == {10: ("matches", 2), 11: ("amount_differs", 1)}


def test_one_receipt_per_payment_and_a_window_of_three_days():
    payments = (pay(1, 5_000_00),)
    receipts = (receipt(10, 5_000_00), receipt(11, 5_000_00, hours=1), receipt(12, 700, hours=80))
    assert outcomes(receipts, payments) == {
        10: ("matches", 1),
        11: ("no_payment_reported", None),  # the payment is already backed by 10
        12: ("no_payment_reported", None),  # 80 hours away: outside the window
    }


def test_the_pairing_does_not_depend_on_the_order_things_arrived():
    payments = [pay(1, 100, 1), pay(2, 200, 2), pay(3, 100, 30)]
    receipts = [receipt(10, 100, 2), receipt(11, 200, 1), receipt(12, 300, 3)]
    first = outcomes(tuple(receipts), tuple(payments))
    for p in permutations(payments):
        for r in permutations(receipts):
            assert outcomes(tuple(r), tuple(p)) == first


MSK = ZoneInfo("Europe/Moscow")


def test_receipt_qr_is_parsed_in_the_sellers_time_zone():
    r = parse_receipt_qr(
        "t=20261112T1142&s=6500.50&fn=9960440300000001&i=1234&fp=2840123456&n=1", MSK
    )
    assert (r.amount, r.fn, r.fd, r.fp) == (6_500_50, "9960440300000001", "1234", "2840123456")
    assert r.issued_at == datetime(2026, 11, 12, 8, 42, tzinfo=UTC)


@pytest.mark.parametrize(
    "qr",
    [
        "hello",
        "t=20261112T1142&s=6500.00&fn=99604403&i=1&fp=2&n=1",  # short fiscal drive number
        "t=20261112T1142&s=6500.00&fn=9960440300000001&i=1&fp=2&n=2",  # a refund
        "t=yesterday&s=6500.00&fn=9960440300000001&i=1&fp=2&n=1",
        "t=20261112T1142&s=-5&fn=9960440300000001&i=1&fp=2&n=1",
        "t=20261112T1142&s=1.234&fn=9960440300000001&i=1&fp=2&n=1",
    ],
)
def test_bad_receipts_are_refused_with_a_reason(qr):
    with pytest.raises(BadReceipt):
        parse_receipt_qr(qr, MSK)


def test_receipt_matches_a_reported_payment_nearby():
    r = parse_receipt_qr("t=20261112T1142&s=6500.00&fn=9960440300000001&i=1&fp=2&n=1", MSK)
    near = r.issued_at + timedelta(hours=5)
    assert (
        match_receipt(r, (PaymentRef(event_id=7, amount=6_500_00, occurred_at=near),)).outcome
        == "matches"
    )
    assert (
        match_receipt(r, (PaymentRef(event_id=7, amount=5_000_00, occurred_at=near),)).outcome
        == "amount_differs"
    )
    far = r.issued_at + timedelta(days=10)
    assert (
        match_receipt(r, (PaymentRef(event_id=7, amount=6_500_00, occurred_at=far),)).outcome
        == "no_payment_reported"
    )

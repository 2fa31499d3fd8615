"""Russian fiscal receipts (54-FZ): the QR on a receipt, and whether it matches what the
clinic reported.

The QR reads `t=20261101T1030&s=6500.00&fn=9960440300000001&i=1234&fp=2840123456&n=1`:
time (local to the seller), total in rubles, fiscal drive number, fiscal document
number, fiscal sign, operation type (1 = income, 2 = refund of income).
"""

import re
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

import msgspec

MATCH_WINDOW = timedelta(days=3)
_REQUIRED = ("t", "s", "fn", "i", "fp", "n")


class BadReceipt(ValueError):
    pass


class Receipt(msgspec.Struct, frozen=True, kw_only=True):
    amount: int  # kopecks
    issued_at: datetime
    fn: str
    fd: str
    fp: str


class PaymentRef(msgspec.Struct, frozen=True, kw_only=True):
    event_id: int
    amount: int
    occurred_at: datetime


class ReceiptRef(msgspec.Struct, frozen=True, kw_only=True):
    """A receipt the patient attached (its ledger event)."""

    event_id: int
    amount: int
    issued_at: datetime


class ReceiptMatch(msgspec.Struct, frozen=True, kw_only=True):
    outcome: str  # matches | amount_differs | no_payment_reported
    payment_event_id: int | None = None
    reported_amount: int | None = None


def parse_receipt_qr(text: str, seller_tz: tzinfo) -> Receipt:
    fields = dict(parse_qsl(text.strip(), keep_blank_values=True))
    missing = [k for k in _REQUIRED if not fields.get(k)]
    if missing:
        raise BadReceipt(f"not a fiscal receipt QR: missing {', '.join(missing)}")
    if fields["n"] != "1":
        raise BadReceipt("only an income receipt (n=1) is evidence of a payment")
    for key, pattern in (("fn", r"\d{16}"), ("i", r"\d{1,10}"), ("fp", r"\d{1,10}")):
        if not re.fullmatch(pattern, fields[key]):
            raise BadReceipt(f"{key} is not a valid fiscal number")
    stamp = fields["t"]
    # strptime would read "1142" as 11:04:02 under %H%M%S: pick the format by length.
    if not re.fullmatch(r"\d{8}T\d{4}(\d{2})?", stamp):
        raise BadReceipt("t is not a receipt time (YYYYMMDDTHHMM)")
    try:
        fmt = "%Y%m%dT%H%M%S" if len(stamp) == 15 else "%Y%m%dT%H%M"
        issued = datetime.strptime(stamp, fmt).replace(tzinfo=seller_tz)
    except ValueError as exc:
        raise BadReceipt("t is not a receipt time (YYYYMMDDTHHMM)") from exc
    try:
        rubles = Decimal(fields["s"])
    except InvalidOperation as exc:
        raise BadReceipt("s is not a sum") from exc
    if rubles <= 0 or rubles.as_tuple().exponent < -2:
        raise BadReceipt("s must be a positive sum in rubles with at most kopecks")
    return Receipt(
        amount=int(rubles * 100), issued_at=issued, fn=fields["fn"], fd=fields["i"], fp=fields["fp"]
    )


def match_receipt(receipt: Receipt, payments: tuple[PaymentRef, ...]) -> ReceiptMatch:
    """The clinic's reported payment this receipt stands for, if any."""
    near = [p for p in payments if abs(p.occurred_at - receipt.issued_at) <= MATCH_WINDOW]
    exact = [p for p in near if p.amount == receipt.amount]
    if exact:
        best = min(exact, key=lambda p: abs(p.occurred_at - receipt.issued_at))
        return ReceiptMatch(
            outcome="matches", payment_event_id=best.event_id, reported_amount=best.amount
        )
    if near:
        best = min(near, key=lambda p: abs(p.occurred_at - receipt.issued_at))
        return ReceiptMatch(
            outcome="amount_differs", payment_event_id=best.event_id, reported_amount=best.amount
        )
    return ReceiptMatch(outcome="no_payment_reported")


def match_receipts(
    receipts: tuple[ReceiptRef, ...], payments: tuple[PaymentRef, ...]
) -> dict[int, ReceiptMatch]:
    """Pair each receipt with the clinic's reported payment it stands for, one receipt to
    a payment: first every receipt with a payment of its own amount within the window
    (the nearest in time), then the rest with the nearest payment left within the window
    (the amounts differ); a receipt with none is a payment the clinic did not report.
    Deterministic: the same ledger always pairs the same way, whatever arrived first."""
    free = {p.event_id: p for p in payments}
    found: dict[int, ReceiptMatch] = {}
    ordered = sorted(receipts, key=lambda r: (r.issued_at, r.event_id))

    def nearest(receipt: ReceiptRef, same_amount: bool) -> PaymentRef | None:
        near = [
            p
            for p in free.values()
            if abs(p.occurred_at - receipt.issued_at) <= MATCH_WINDOW
            and (p.amount == receipt.amount or not same_amount)
        ]
        return min(
            near, key=lambda p: (abs(p.occurred_at - receipt.issued_at), p.event_id), default=None
        )

    for same_amount in (True, False):
        for receipt in ordered:
            if receipt.event_id in found:
                continue
            payment = nearest(receipt, same_amount)
            if payment is None:
                continue
            del free[payment.event_id]
            found[receipt.event_id] = ReceiptMatch(
                outcome="matches" if payment.amount == receipt.amount else "amount_differs",
                payment_event_id=payment.event_id,
                reported_amount=payment.amount,
            )
    return {
        r.event_id: found.get(r.event_id, ReceiptMatch(outcome="no_payment_reported"))
        for r in ordered
    }

"""The rules of SMS to patients, without a database: billed parts, the weekly allowance,
how long a link works, and SMS.ru's status codes sorted into outcomes."""

from datetime import UTC, datetime, timedelta

import pytest

from backend.domain.sms import (
    LINK_GRACE,
    SmsKind,
    invite_is_fresh,
    link_works,
    sms_parts,
    weekly_allowance,
)
from backend.messages.sms import classify

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),  # extension characters take two septets
        ("{" * 81, 2),
        ("я" * 70, 1),
        ("я" * 71, 2),
        ("я" * 134, 2),
        ("я" * 135, 3),
        ("a" * 69 + "😀", 2),  # outside the BMP: two UTF-16 units, and UCS-2 for all
        ("€" * 80, 1),
    ],
)
def test_parts_follow_gsm_and_ucs2_lengths(text, parts):
    assert sms_parts(text) == parts


@pytest.mark.parametrize(
    ("kind", "sent", "limit", "allowed"),
    [
        (SmsKind.question, 0, 3, True),
        (SmsKind.question, 1, 3, True),
        (SmsKind.question, 2, 3, False),  # the third is kept for an urgent reminder
        (SmsKind.remind_2h, 2, 3, True),
        (SmsKind.remind_2h, 3, 3, False),
        (SmsKind.invite, 0, 1, True),  # a limit of one keeps nothing back
        (SmsKind.remind_2h, 1, 1, False),
        (SmsKind.question, 0, 0, False),  # 0: no notifications by SMS at all
        (SmsKind.code, 99, 0, True),  # a code the patient asked for is never held back
    ],
)
def test_the_weekly_allowance_keeps_the_last_sms_for_urgent_reminders(kind, sent, limit, allowed):
    assert weekly_allowance(kind, sent_this_week=sent, limit=limit).allowed is allowed


def test_a_link_works_while_open_and_a_month_after_the_end():
    assert link_works(ended_at=None, revoked_at=None, now=NOW)
    assert link_works(ended_at=NOW - LINK_GRACE + timedelta(minutes=1), revoked_at=None, now=NOW)
    assert not link_works(ended_at=NOW - LINK_GRACE, revoked_at=None, now=NOW)
    assert not link_works(ended_at=None, revoked_at=NOW, now=NOW)


def test_an_invite_is_fresh_for_three_days():
    assert invite_is_fresh(sent_at=NOW - timedelta(days=3), now=NOW)
    assert not invite_is_fresh(sent_at=NOW - timedelta(days=3, seconds=1), now=NOW)


@pytest.mark.parametrize(
    ("code", "outcome", "waits"),
    [
        (100, "sent", False),
        (232, "sent", False),  # the same text went to this number today: a lost answer
        (202, "bad_number", False),
        (207, "bad_number", False),
        (209, "bad_number", False),
        (201, "retry", True),  # no money: wait for a top-up
        (206, "retry", True),
        (230, "retry", True),
        (231, "retry", True),
        (233, "retry", True),
        (200, "retry", True),  # credentials: someone must fix them; nothing is dropped
        (301, "retry", True),
        (220, "retry", False),  # unavailable: the outbox's backoff
        (500, "retry", False),
        (203, "failed", False),
        (204, "failed", False),
        (205, "failed", False),
        (212, "failed", False),
        (999, "failed", False),
    ],
)
def test_sms_ru_codes_are_told_apart(code, outcome, waits):
    result = classify(code)
    assert result.outcome == outcome
    assert (result.retry_after is not None) is waits

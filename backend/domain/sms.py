"""Text messages to patients without the app: which notifications go by SMS, the weekly
allowance (urgent reminders first), how many billed parts a text is, and how long a
patient's personal link works.

A patient with an active app device gets pushes only; one without gets the same
notifications as SMS with a link to a web page (patient_web/), within an allowance per
week, because every SMS costs money and too many of them teach people to ignore them.
"""

from datetime import datetime, timedelta
from enum import StrEnum

import msgspec


class SmsKind(StrEnum):
    invite = "invite"  # the referral was sent: the clinic will call; your link
    question = "question"  # a verification question waits on the page
    remind_24h = "remind_24h"
    remind_2h = "remind_2h"
    inactive = "inactive"  # questions unanswered for a week
    code = "code"  # the six digits that prove the phone (asked for by the patient)


# Which notifications (backend.services.notifications kinds) may become an SMS. A plan
# behind schedule and the six-month recall stay push-only: neither needs an answer.
BY_SMS = frozenset(
    {SmsKind.invite, SmsKind.question, SmsKind.remind_24h, SmsKind.remind_2h, SmsKind.inactive}
)
# May use the last SMS of the week; everything else leaves it free for these.
URGENT = frozenset({SmsKind.remind_2h})

WEEK = timedelta(days=7)
# Questions asked together (a booking brings "did they call?" and "are you booked?" at
# once) share one SMS: the page shows every open question.
QUESTIONS_SHARE_SMS_WITHIN = timedelta(hours=1)
# An invite is about a call to come; past this it would only confuse (imports, backfills).
INVITE_FRESH_FOR = timedelta(days=3)
# A link works while its referral is open, and this long after it ended (the questions
# that follow completion, a last look at the plan).
LINK_GRACE = timedelta(days=30)


class Allowance(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    reason: str = ""


def weekly_allowance(kind: SmsKind, *, sent_this_week: int, limit: int) -> Allowance:
    """At most `limit` SMS per patient in any seven days; one of them is kept for an
    urgent reminder while the others are spent, so urgent ones go first. Codes the
    patient asked for are not notifications and are not counted here."""
    if kind is SmsKind.code:
        return Allowance(allowed=True)
    if limit <= 0:
        return Allowance(allowed=False, reason="SMS notifications are off (limit 0)")
    kept_for_urgent = 1 if limit >= 2 and kind not in URGENT else 0
    if sent_this_week < limit - kept_for_urgent:
        return Allowance(allowed=True)
    what = "the last one is kept for urgent reminders" if kept_for_urgent else "limit reached"
    return Allowance(allowed=False, reason=f"weekly SMS limit ({limit}): {what}")


# GSM 03.38: the default alphabet and the extension table (whose characters take two
# septets). A text entirely in it is sent 7-bit; anything else (Cyrillic) as UCS-2.
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_parts(text: str) -> int:
    """How many SMS a text is billed as: 160 / 153 per part in 7-bit, 70 / 67 in UCS-2
    (a long text is split into parts that carry a joining header)."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text):
        units, single, multi = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text), 160, 153
    else:
        # UTF-16 code units: a character outside the BMP (an emoji) takes two.
        units, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


def link_works(*, ended_at: datetime | None, revoked_at: datetime | None, now: datetime) -> bool:
    """A patient's link: until revoked, and while its referral is open or ended less than
    LINK_GRACE ago (`ended_at`: when it was completed, closed, declined or transferred)."""
    if revoked_at is not None:
        return False
    return ended_at is None or now < ended_at + LINK_GRACE


def invite_is_fresh(*, sent_at: datetime, now: datetime) -> bool:
    return now - sent_at <= INVITE_FRESH_FOR

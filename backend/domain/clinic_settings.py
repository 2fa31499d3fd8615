"""What a clinic and the exchange can set (issue 20), and what follows from it.

Settings come in layers: built-in defaults, the exchange's defaults over them, a
clinic's own values over those (unset = inherit). From the layers follow the working
hours and holidays the first-contact SLA and "overdue" are counted in, the answer
windows of verification, and the clinic's sender name for SMS. Duration norms have
their own layers (backend.domain.norms).

Which changes restate the reports: anything that moves a verification deadline (hours,
holidays, SLA, answer windows) changes states and overdue counts, and norms change
expected money and planned durations — those referrals are re-folded. A sender name
changes nothing already reported.
"""

import re
from datetime import date, time, timedelta, tzinfo

import msgspec

from backend.domain.verification import VerificationPolicy
from backend.domain.working_time import DEFAULT_HOURS, WorkingHours

DEFAULT_SLA_MINUTES = 120  # two working hours: the exchange's contract with its clinics
DEFAULT_ANSWER_WINDOW_HOURS = 72
DEFAULT_VISIT_GRACE_HOURS = 3
MAX_HOLIDAYS = 120

# The SMS sender name (alphanumeric sender ID): what operators accept and aggregators
# such as SMS.ru register — 3 to 11 Latin letters, digits, spaces, dots or hyphens,
# at least one letter.
SENDER_NAME = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 .\-]{3,11}$")


class SettingValues(msgspec.Struct, frozen=True, kw_only=True):
    """One layer: the exchange's defaults or one clinic's own values; None inherits."""

    opens: time | None = None
    closes: time | None = None
    weekdays: tuple[int, ...] | None = None  # Monday = 0
    holidays: tuple[date, ...] | None = None
    first_contact_sla_minutes: int | None = None
    answer_window_hours: int | None = None
    visit_grace_hours: int | None = None
    sender_name: str | None = None


class EffectiveSettings(msgspec.Struct, frozen=True, kw_only=True):
    hours: WorkingHours
    first_contact_sla: timedelta
    answer_window: timedelta
    visit_grace: timedelta
    sender_name: str | None
    # For each field, who set the value in force: "clinic", "exchange" or "default".
    source: dict[str, str]


FIELDS = tuple(SettingValues.__struct_fields__)


def effective_settings(exchange: SettingValues, clinic: SettingValues) -> EffectiveSettings:
    """The clinic's values over the exchange's over the built-in defaults."""
    built_in = SettingValues(
        opens=DEFAULT_HOURS.opens,
        closes=DEFAULT_HOURS.closes,
        weekdays=tuple(sorted(DEFAULT_HOURS.weekdays)),
        holidays=(),
        first_contact_sla_minutes=DEFAULT_SLA_MINUTES,
        answer_window_hours=DEFAULT_ANSWER_WINDOW_HOURS,
        visit_grace_hours=DEFAULT_VISIT_GRACE_HOURS,
        sender_name=None,
    )
    value, source = {}, {}
    for field in FIELDS:
        for name, layer in (("clinic", clinic), ("exchange", exchange), ("default", built_in)):
            if getattr(layer, field) is not None or name == "default":
                value[field], source[field] = getattr(layer, field), name
                break
    return EffectiveSettings(
        hours=WorkingHours(
            opens=value["opens"],
            closes=value["closes"],
            weekdays=frozenset(value["weekdays"]),
            holidays=frozenset(value["holidays"]),
        ),
        first_contact_sla=timedelta(minutes=value["first_contact_sla_minutes"]),
        answer_window=timedelta(hours=value["answer_window_hours"]),
        visit_grace=timedelta(hours=value["visit_grace_hours"]),
        sender_name=value["sender_name"],
        source=source,
    )


def policy_of(settings: EffectiveSettings, tz: tzinfo) -> VerificationPolicy:
    """The verification policy these settings make for a clinic in zone `tz`."""
    return VerificationPolicy(
        contact_sla=settings.first_contact_sla,
        answer_window=settings.answer_window,
        visit_grace=settings.visit_grace,
        hours=settings.hours,
        tz=tz,
    )


def check_values(values: SettingValues) -> list[str]:
    """What is wrong with a layer, in words for the person who typed it (empty: fine)."""
    problems = []
    if (values.opens is None) != (values.closes is None):
        problems.append("opens and closes: set both, or neither")
    elif values.opens is not None and values.closes is not None and values.opens >= values.closes:
        problems.append("closes: must be after opens (working hours within one day)")
    if values.weekdays is not None:
        if not values.weekdays:
            problems.append("weekdays: at least one working day")
        elif any(d not in range(7) for d in values.weekdays):
            problems.append("weekdays: 0 (Monday) to 6 (Sunday)")
    if values.holidays is not None and len(values.holidays) > MAX_HOLIDAYS:
        problems.append(f"holidays: at most {MAX_HOLIDAYS}")
    ranges = (
        ("first_contact_sla_minutes", 15, 7 * 24 * 60),
        ("answer_window_hours", 1, 30 * 24),
        ("visit_grace_hours", 1, 72),
    )
    for field, low, high in ranges:
        value = getattr(values, field)
        if value is not None and not low <= value <= high:
            problems.append(f"{field}: from {low} to {high}")
    if values.sender_name is not None and not SENDER_NAME.fullmatch(values.sender_name):
        problems.append(
            "sender_name: 3 to 11 Latin letters, digits, spaces, dots or hyphens, with a letter"
        )
    return problems


# The settings whose change moves verification deadlines, and so states and counts.
RESTATING = frozenset(
    {
        "opens",
        "closes",
        "weekdays",
        "holidays",
        "first_contact_sla_minutes",
        "answer_window_hours",
        "visit_grace_hours",
    }
)


def changed_fields(old: SettingValues, new: SettingValues) -> dict[str, tuple]:
    """Field → (old, new) for the fields that differ."""
    return {
        f: (getattr(old, f), getattr(new, f)) for f in FIELDS if getattr(old, f) != getattr(new, f)
    }


def restates(changed: dict[str, tuple]) -> bool:
    return bool(RESTATING & set(changed))

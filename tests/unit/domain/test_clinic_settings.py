"""A clinic's settings (clinic_settings): the layers (clinic over exchange over built-in),
the policy they make, what a layer may hold, and which changes restate the reports."""

from datetime import date, time, timedelta

import pytest

from backend.domain.clinic_settings import (
    FIELDS,
    MAX_HOLIDAYS,
    RESTATING,
    SettingValues,
    changed_fields,
    check_values,
    effective_settings,
    policy_of,
    restates,
)
from backend.domain.working_time import DEFAULT_HOURS
from tests.unit.domain.stories import MSK

NONE = SettingValues()


def test_with_nothing_set_the_built_in_defaults_hold():
    s = effective_settings(NONE, NONE)
    assert s.hours == DEFAULT_HOURS
    assert s.first_contact_sla == timedelta(hours=2)
    assert s.answer_window == timedelta(hours=72)
    assert s.visit_grace == timedelta(hours=3)
    assert s.sender_name is None
    assert s.source == dict.fromkeys(FIELDS, "default")


def test_the_clinics_values_are_laid_over_the_exchanges_over_the_defaults():
    exchange = SettingValues(first_contact_sla_minutes=60, answer_window_hours=48)
    clinic = SettingValues(first_contact_sla_minutes=30, sender_name="Smile")
    s = effective_settings(exchange, clinic)
    assert s.first_contact_sla == timedelta(minutes=30)
    assert s.answer_window == timedelta(hours=48)
    assert s.visit_grace == timedelta(hours=3)
    assert s.sender_name == "Smile"
    assert (
        s.source["first_contact_sla_minutes"],
        s.source["answer_window_hours"],
        s.source["visit_grace_hours"],
        s.source["sender_name"],
    ) == ("clinic", "exchange", "default", "clinic")


def test_an_empty_list_of_holidays_is_a_value_not_inheritance():
    exchange = SettingValues(holidays=(date(2027, 1, 1),))
    assert effective_settings(exchange, NONE).hours.holidays == {date(2027, 1, 1)}
    cleared = effective_settings(exchange, SettingValues(holidays=()))
    assert cleared.hours.holidays == frozenset()
    assert cleared.source["holidays"] == "clinic"


def test_working_hours_are_built_from_the_layers():
    clinic = SettingValues(opens=time(8), closes=time(22), weekdays=(0, 1, 2, 3, 4, 5, 6))
    hours = effective_settings(NONE, clinic).hours
    assert (hours.opens, hours.closes) == (time(8), time(22))
    assert hours.weekdays == frozenset(range(7))


def test_the_policy_carries_the_deadlines_hours_and_zone():
    s = effective_settings(
        NONE,
        SettingValues(
            first_contact_sla_minutes=45,
            answer_window_hours=24,
            visit_grace_hours=2,
            holidays=(date(2026, 12, 31),),
        ),
    )
    policy = policy_of(s, MSK)
    assert policy.contact_sla == timedelta(minutes=45)
    assert policy.answer_window == timedelta(hours=24)
    assert policy.visit_grace == timedelta(hours=2)
    assert policy.hours == s.hours and date(2026, 12, 31) in policy.hours.holidays
    assert policy.tz is MSK


# --- check_values ------------------------------------------------------------------------


def test_an_empty_layer_and_a_sensible_one_are_fine():
    assert check_values(NONE) == []
    fine = SettingValues(
        opens=time(9),
        closes=time(18),
        weekdays=(0, 1, 2, 3, 4),
        holidays=(date(2027, 1, 1),),
        first_contact_sla_minutes=60,
        answer_window_hours=72,
        visit_grace_hours=3,
        sender_name="Dr. Smile",
    )
    assert check_values(fine) == []


@pytest.mark.parametrize(
    "values, field",
    [
        (SettingValues(opens=time(9)), "opens and closes"),
        (SettingValues(closes=time(18)), "opens and closes"),
        (SettingValues(opens=time(18), closes=time(9)), "closes"),
        (SettingValues(opens=time(9), closes=time(9)), "closes"),
        (SettingValues(weekdays=()), "weekdays"),
        (SettingValues(weekdays=(0, 7)), "weekdays"),
        (SettingValues(weekdays=(-1,)), "weekdays"),
        (SettingValues(first_contact_sla_minutes=14), "first_contact_sla_minutes"),
        (SettingValues(first_contact_sla_minutes=7 * 24 * 60 + 1), "first_contact_sla_minutes"),
        (SettingValues(answer_window_hours=0), "answer_window_hours"),
        (SettingValues(answer_window_hours=30 * 24 + 1), "answer_window_hours"),
        (SettingValues(visit_grace_hours=0), "visit_grace_hours"),
        (SettingValues(visit_grace_hours=73), "visit_grace_hours"),
    ],
)
def test_a_bad_value_is_named_by_its_field(values, field):
    [problem] = check_values(values)
    assert problem.startswith(f"{field}:")


@pytest.mark.parametrize(
    "values",
    [
        SettingValues(first_contact_sla_minutes=15),
        SettingValues(first_contact_sla_minutes=7 * 24 * 60),
        SettingValues(answer_window_hours=1),
        SettingValues(answer_window_hours=30 * 24),
        SettingValues(visit_grace_hours=1),
        SettingValues(visit_grace_hours=72),
        SettingValues(weekdays=(6,)),
        SettingValues(opens=time(0), closes=time(23, 59)),
    ],
)
def test_the_ends_of_each_range_are_allowed(values):
    assert check_values(values) == []


def test_holidays_are_capped():
    days = tuple(date(2027, 1, 1) + timedelta(days=n) for n in range(MAX_HOLIDAYS + 1))
    assert check_values(SettingValues(holidays=days[:MAX_HOLIDAYS])) == []
    [problem] = check_values(SettingValues(holidays=days))
    assert problem.startswith("holidays:")


@pytest.mark.parametrize("name", ["Smile", "Dr. Smile", "SMILE-24", "abc", "A2345678901"])
def test_a_sender_name_operators_accept(name):
    assert check_values(SettingValues(sender_name=name)) == []


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "A23456789012",
        "12345",
        "Улыбка",
        "Smile!",
        "Smile_1",
        "",
        "...",
        "Smile\n",
    ],
)
def test_a_sender_name_operators_refuse(name):
    [problem] = check_values(SettingValues(sender_name=name))
    assert problem.startswith("sender_name:")


def test_every_problem_of_a_layer_is_reported():
    bad = SettingValues(opens=time(9), weekdays=(), visit_grace_hours=0, sender_name="x")
    assert [p.split(":")[0] for p in check_values(bad)] == [
        "opens and closes",
        "weekdays",
        "visit_grace_hours",
        "sender_name",
    ]


# --- what a change restates --------------------------------------------------------------


def test_a_change_of_a_deadline_restates_and_a_sender_name_does_not():
    old = SettingValues(first_contact_sla_minutes=120, sender_name="Smile")
    renamed = SettingValues(first_contact_sla_minutes=120, sender_name="Smile2")
    assert changed_fields(old, renamed) == {"sender_name": ("Smile", "Smile2")}
    assert not restates(changed_fields(old, renamed))
    quicker = SettingValues(first_contact_sla_minutes=60, sender_name="Smile")
    assert restates(changed_fields(old, quicker))
    assert changed_fields(old, old) == {} and not restates({})


def test_every_setting_but_the_sender_name_restates():
    assert set(FIELDS) - RESTATING == {"sender_name"}
    for field in RESTATING:
        assert restates({field: (None, None)})


def test_inheriting_again_is_a_change():
    old = SettingValues(holidays=(date(2027, 1, 1),))
    assert changed_fields(old, NONE) == {"holidays": ((date(2027, 1, 1),), None)}

"""Teeth in FDI notation (teeth): 32 permanent and 20 deciduous, and nothing else."""

import pytest

from backend.domain.teeth import (
    DECIDUOUS_TEETH,
    PERMANENT_TEETH,
    VALID_TEETH,
    ToothCondition,
    is_valid_tooth,
)


def test_an_adult_has_thirty_two_teeth_and_a_child_twenty():
    assert len(PERMANENT_TEETH) == len(set(PERMANENT_TEETH)) == 32
    assert len(DECIDUOUS_TEETH) == len(set(DECIDUOUS_TEETH)) == 20
    assert set(PERMANENT_TEETH) | set(DECIDUOUS_TEETH) == VALID_TEETH


def test_the_first_and_last_of_each_quadrant():
    assert [t for t in PERMANENT_TEETH if t % 10 in (1, 8)] == [11, 18, 21, 28, 31, 38, 41, 48]
    assert [t for t in DECIDUOUS_TEETH if t % 10 in (1, 5)] == [51, 55, 61, 65, 71, 75, 81, 85]


@pytest.mark.parametrize("tooth", [11, 18, 36, 48, 51, 55, 75, 85])
def test_a_tooth_in_fdi_notation_is_valid(tooth):
    assert is_valid_tooth(tooth)


@pytest.mark.parametrize("tooth", [0, -11, 10, 19, 20, 49, 50, 56, 59, 86, 90, 111])
def test_numbers_that_name_no_tooth_are_not(tooth):
    assert not is_valid_tooth(tooth)


def test_a_chart_can_show_healthy_and_missing_teeth():
    assert {"healthy", "missing", "caries", "implant"} <= {c.value for c in ToothCondition}

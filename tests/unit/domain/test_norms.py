"""Duration norms (norms): the exchange's defaults, as docs/domain.md lists them, and a
clinic's own numbers laid over them per specialization."""

import re
from pathlib import Path

from backend.domain.norms import DEFAULT_NORMS, DurationNorm, Specialization, effective_norms

DOMAIN_DOC = Path(__file__).resolve().parents[3] / "docs" / "domain.md"


def norm(spec: Specialization, days: int, minutes: int = 60) -> DurationNorm:
    return DurationNorm(
        specialization=spec, chair_minutes=minutes, course_days=days, source="the clinic"
    )


def test_every_specialization_has_a_default_norm_with_a_source():
    assert set(DEFAULT_NORMS) == set(Specialization)
    for spec, n in DEFAULT_NORMS.items():
        assert n.specialization is spec
        assert n.chair_minutes > 0 and n.course_days >= 1
        assert n.source.strip()


def test_the_seed_meetings_numbers_are_the_defaults():
    implantology = DEFAULT_NORMS[Specialization.implantology]
    assert (implantology.course_days, implantology.chair_minutes) == (180, 8 * 60)
    assert DEFAULT_NORMS[Specialization.orthopedics].course_days == 60
    assert DEFAULT_NORMS[Specialization.therapy].chair_minutes == 60


def test_the_defaults_are_the_ones_docs_domain_md_lists():
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \|", DOMAIN_DOC.read_text(), re.MULTILINE)
    documented = {spec: (int(minutes), int(days)) for spec, minutes, days in rows}
    assert documented == {
        str(spec): (n.chair_minutes, n.course_days) for spec, n in DEFAULT_NORMS.items()
    }


def test_without_overrides_the_defaults_hold_keyed_by_name():
    norms = effective_norms()
    assert norms == {str(spec): n for spec, n in DEFAULT_NORMS.items()}
    assert effective_norms([]) == norms
    assert all(type(key) is str for key in norms)


def test_a_clinics_norm_replaces_that_specialization_only():
    slow = norm(Specialization.surgery, 30)
    norms = effective_norms([slow])
    assert norms["surgery"] == slow
    assert {k: v for k, v in norms.items() if k != "surgery"} == {
        str(s): n for s, n in DEFAULT_NORMS.items() if s is not Specialization.surgery
    }


def test_the_last_override_of_a_specialization_wins():
    norms = effective_norms([norm(Specialization.hygiene, 2), norm(Specialization.hygiene, 3)])
    assert norms["hygiene"].course_days == 3


def test_the_defaults_are_not_changed_by_a_clinics_norms():
    before = dict(DEFAULT_NORMS)
    norms = effective_norms([norm(Specialization.therapy, 99)])
    norms["therapy"] = norm(Specialization.therapy, 100)
    assert before == DEFAULT_NORMS
    assert effective_norms()["therapy"].course_days == 7

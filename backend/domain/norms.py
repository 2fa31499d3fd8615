"""Duration norms: expected chair time and course length per specialization.

The exchange's defaults; a clinic may override any of them. They give every plan an
expected finish date, which is what lets the funnel say whether money is late or lost.
"""

from enum import StrEnum

import msgspec


class Specialization(StrEnum):
    therapy = "therapy"
    endodontics = "endodontics"
    periodontics = "periodontics"
    hygiene = "hygiene"
    surgery = "surgery"
    implantology = "implantology"
    orthopedics = "orthopedics"
    orthodontics = "orthodontics"
    diagnostics = "diagnostics"


class DurationNorm(msgspec.Struct, frozen=True, kw_only=True):
    specialization: Specialization
    chair_minutes: int  # per plan item
    course_days: int  # calendar days from first to last visit of one item
    source: str


# Sources: "seed meeting" is the exchange's product meeting that set out the product (its
# transcript, in Russian, is not part of this repository). On norms it said, in so many
# words: "имплантология 6 месяцев занимает, ортопедия занимает 2 месяца" (implantology
# takes 6 months, orthopedics 2), "один кариес – один час" (one caries, one hour) and
# "в имплантологии 8 часов" (implantology, 8 hours). The others are typical course
# lengths of the standard protocols, kept deliberately round; the exchange and clinics
# override them with their own numbers. docs/domain.md lists them all.
DEFAULT_NORMS: dict[Specialization, DurationNorm] = {
    n.specialization: n
    for n in (
        DurationNorm(
            specialization=Specialization.therapy,
            chair_minutes=60,
            course_days=7,
            source="seed meeting: one caries, one chair hour; one visit, a week's slack",
        ),
        DurationNorm(
            specialization=Specialization.endodontics,
            chair_minutes=90,
            course_days=21,
            source="root canal treatment in two to three visits over two to three weeks",
        ),
        DurationNorm(
            specialization=Specialization.periodontics,
            chair_minutes=60,
            course_days=30,
            source="initial periodontal therapy course with re-evaluation after ~4 weeks",
        ),
        DurationNorm(
            specialization=Specialization.hygiene,
            chair_minutes=60,
            course_days=1,
            source="professional hygiene: one visit",
        ),
        DurationNorm(
            specialization=Specialization.surgery,
            chair_minutes=45,
            course_days=14,
            source="extraction with suture removal and check at 7-14 days",
        ),
        DurationNorm(
            specialization=Specialization.implantology,
            chair_minutes=480,
            course_days=180,
            source="seed meeting: implantology takes 6 months, about 8 chair hours",
        ),
        DurationNorm(
            specialization=Specialization.orthopedics,
            chair_minutes=120,
            course_days=60,
            source="seed meeting: orthopedics takes 2 months",
        ),
        DurationNorm(
            specialization=Specialization.orthodontics,
            chair_minutes=60,
            course_days=540,
            source="braces or aligners: typically 12-24 months; 18 taken",
        ),
        DurationNorm(
            specialization=Specialization.diagnostics,
            chair_minutes=30,
            course_days=1,
            source="examination, imaging: one visit",
        ),
    )
}


Norms = dict[str, DurationNorm]


def effective_norms(overrides: list[DurationNorm] | None = None) -> Norms:
    """The exchange's defaults with a clinic's own numbers laid over them."""
    norms: Norms = {str(k): v for k, v in DEFAULT_NORMS.items()}
    for norm in overrides or ():
        norms[str(norm.specialization)] = norm
    return norms

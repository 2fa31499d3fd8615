"""Teeth in FDI two-digit notation (ISO 3950) and the conditions a chart shows."""

from enum import StrEnum
from typing import Annotated, Literal

import msgspec

# Quadrants 1-4 (permanent: 8 teeth each), 5-8 (deciduous: 5 each).
PERMANENT_TEETH: tuple[int, ...] = tuple(q * 10 + n for q in (1, 2, 3, 4) for n in range(1, 9))
DECIDUOUS_TEETH: tuple[int, ...] = tuple(q * 10 + n for q in (5, 6, 7, 8) for n in range(1, 6))
VALID_TEETH = frozenset(PERMANENT_TEETH + DECIDUOUS_TEETH)
# Exactly the FDI numbers (11-18 … 81-85), for the bodies that name a tooth: their schema
# allows no number the API refuses (19 or 50 lie between 11 and 85 and are no tooth).
Tooth = Annotated[
    Literal[tuple(sorted(VALID_TEETH))],  # type: ignore[valid-type]
    msgspec.Meta(description="FDI tooth number"),
]


class ToothCondition(StrEnum):
    healthy = "healthy"
    caries = "caries"
    filled = "filled"
    root_canal = "root_canal"  # needs or has endodontic treatment
    crown = "crown"
    missing = "missing"
    implant = "implant"
    extraction = "extraction"  # to be removed
    bridge = "bridge"
    periodontitis = "periodontitis"


def is_valid_tooth(number: int) -> bool:
    return number in VALID_TEETH

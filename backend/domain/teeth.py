"""Teeth in FDI two-digit notation (ISO 3950) and the conditions a chart shows."""

from enum import StrEnum

# Quadrants 1-4 (permanent: 8 teeth each), 5-8 (deciduous: 5 each).
PERMANENT_TEETH: tuple[int, ...] = tuple(q * 10 + n for q in (1, 2, 3, 4) for n in range(1, 9))
DECIDUOUS_TEETH: tuple[int, ...] = tuple(q * 10 + n for q in (5, 6, 7, 8) for n in range(1, 6))
VALID_TEETH = frozenset(PERMANENT_TEETH + DECIDUOUS_TEETH)


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

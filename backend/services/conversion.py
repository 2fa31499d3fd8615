"""Conversion with forecast, from the stored positions (definition and table:
backend.domain.conversion)."""

from datetime import date
from uuid import UUID

import msgspec

from backend.domain.conversion import (
    ConversionRow,
    Count,
    clinic_rates,
    conversion_table,
    recent_days,
    sorted_counts,
)
from backend.services.errors import Invalid
from backend.store import conversion as store
from backend.store import parties

BY = ("clinic", "coordinator", "specialization")


class ConversionReport(msgspec.Struct, frozen=True, kw_only=True):
    first: date
    last: date
    by: str
    recent_first: date  # the days whose referrals give each clinic's recent conversion
    recent_last: date
    total: ConversionRow | None
    rows: list[ConversionRow]


async def cohort_counts(
    clinic_ids: list[UUID] | None,
    first: date,
    last: date,
    by: str,
    specialization: str | None = None,
) -> list[Count]:
    return sorted_counts(
        await store.counts(clinic_ids, first, last, by=by, specialization=specialization)
    )


async def conversion(
    clinic_ids: list[UUID] | None,
    *,
    first: date,
    last: date,
    by: str = "clinic",
    specialization: str | None = None,
) -> ConversionReport:
    if by not in BY:
        raise Invalid(f"by: one of {', '.join(BY)}")
    counts = await cohort_counts(clinic_ids, first, last, by, specialization)
    # Each clinic's own recent conversion, over all its cases (not only the narrowed ones).
    clinics = sorted({c.clinic_id for c in counts}, key=str)
    since, until = recent_days(last)
    recent = await cohort_counts(clinics, since, until, "total") if clinics else []
    rates = clinic_rates(recent)
    totals: dict[tuple, int] = {}
    for c in counts:
        key = (c.clinic_id, c.reached, c.status)
        totals[key] = totals.get(key, 0) + c.count
    total = conversion_table(
        [
            Count(clinic_id=k[0], group="", reached=k[1], status=k[2], count=n)
            for k, n in totals.items()
        ],
        rates,
    )
    return ConversionReport(
        first=first,
        last=last,
        by=by,
        recent_first=since,
        recent_last=until,
        total=total[0] if total else None,
        rows=conversion_table(counts, rates),
    )


async def coordinator_names(groups: list[str]) -> dict[str, str]:
    ids = {}
    for g in groups:
        if g.startswith("staff:"):
            try:
                ids[g] = UUID(g.removeprefix("staff:"))
            except ValueError:
                continue
    names = await parties.staff_names(list(ids.values()))
    return {g: names[i] for g, i in ids.items() if i in names}

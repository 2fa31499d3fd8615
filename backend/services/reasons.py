"""Lost money by reason and plan revisions by reason, per clinic, from the funnel facts
(definition: backend.domain.reasons)."""

from datetime import date
from uuid import UUID

from backend.domain.reasons import ReasonRow, sort_reasons
from backend.services.reports import whole_months
from backend.store import funnel_facts


async def reasons_by_clinic(
    clinic_ids: list[UUID] | None,
    *,
    first: date,
    last: date,
    specialization: str | None = None,
) -> list[ReasonRow]:
    """Whole months from the monthly sums, the days around them from the facts."""
    months, _ = whole_months(first, last)
    rows: dict[tuple[UUID, str, str], ReasonRow] = {}
    for r in await funnel_facts.reason_sums(
        clinic_ids, first, last, months, specialization=specialization
    ):
        count, amount = r.count, r.amount
        if count == 0 and amount == 0:
            continue  # a monthly sum that changes took back to nothing
        key = (r.clinic, r.kind, r.reason)
        row = rows.setdefault(key, ReasonRow(clinic_id=key[0], kind=key[1], reason=key[2]))
        row.count += count
        row.money += amount
    return sort_reasons(r for r in rows.values() if r.count or r.money)

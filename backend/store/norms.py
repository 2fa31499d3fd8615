"""Duration norms: the exchange's defaults and each clinic's overrides."""

from uuid import UUID

from backend.domain.norms import DurationNorm, Norms, Specialization, effective_norms
from backend.store.tables import DurationNorm as NormRow

EXCHANGE_SCOPE = "exchange"


async def norms_for(clinic_id: UUID | None) -> Norms:
    """Built-in defaults, then the exchange's stored values, then the clinic's."""
    scopes = [EXCHANGE_SCOPE] + ([str(clinic_id)] if clinic_id else [])
    rows = await NormRow.raw(
        "SELECT * FROM duration_norm WHERE scope IN ({}, {})", scopes[0], scopes[-1]
    )
    rows.sort(key=lambda r: scopes.index(r["scope"]))
    return effective_norms(
        [
            DurationNorm(
                specialization=Specialization(r["specialization"]),
                chair_minutes=r["chair_minutes"],
                course_days=r["course_days"],
                source=r["source"],
            )
            for r in rows
        ]
    )

"""The health department's anonymised aggregates (rules: backend.domain.health_stats).

Reads per-referral rows (funnel facts, the clinics' current plans) and hands the domain
only what it needs: month, district, specialization, figures, and the patient id as an
opaque key for counting distinct patients. Nothing else leaves this module."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.domain.health_stats import Cell, Observation, PriceSample, PriceSpread, cells
from backend.domain.health_stats import price_spreads as spreads
from backend.services.plan_fact import month_range
from backend.store import desk, funnel_facts, plans

# Fact kinds as the health department's figures: completion is known by its duration.
KINDS = {"in": "in", "executed": "executed", "started": "started", "duration": "completed"}


async def _districts() -> dict:
    return {
        c.id: (c.district or None, ZoneInfo(c.timezone))
        for c in await desk.clinics(include_archived=True)
    }


async def aggregates(first: str, last: str) -> list[Cell]:
    months = month_range(first, last)
    districts = await _districts()
    rows = await funnel_facts.health_observations(list(KINDS), months)
    return cells(
        Observation(
            month=r.month,
            district=districts.get(r.clinic, (None,))[0],
            specialization=r.specialization,
            patient=r.patient,
            kind=KINDS[r.kind],
            amount=r.amount,
        )
        for r in rows
    )


async def price_spreads(first: str, last: str) -> list[PriceSpread]:
    """Prices of the same item (by code) in the clinics' current plans of the referrals
    sent in each month."""
    months = month_range(first, last)
    start = datetime.fromisoformat(f"{months[0]}-01").replace(tzinfo=UTC) - timedelta(days=1)
    end = datetime.fromisoformat(f"{months[-1]}-28").replace(tzinfo=UTC) + timedelta(days=5)
    rows = await plans.actual_coded_items_sent_between(start, end)
    latest: dict = {}
    for r in rows:
        latest[r.referral] = max(latest.get(r.referral, 0), r.version)
    districts = await _districts()
    samples = []
    for r in rows:
        if r.version != latest[r.referral]:
            continue
        if r.variant is not None and r.chosen not in (None, r.variant):
            continue  # an alternative the patient did not choose
        tz = districts.get(r.clinic, (None, UTC))[1]
        month = r.sent_at.astimezone(tz).strftime("%Y-%m")
        if month in months:
            samples.append(
                PriceSample(
                    month=month,
                    specialization=r.specialization,
                    code=r.code,
                    price=r.price,
                    patient=r.patient,
                )
            )
    return spreads(samples)

"""The health department's anonymised aggregates (rules: backend.domain.health_stats).

Reads per-referral rows (funnel facts, the clinics' current plans) and hands the domain
only what it needs: month, district, specialization, figures, and the patient id as an
opaque key for counting distinct patients. Nothing else leaves this module."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.domain.health_stats import Cell, Observation, PriceSample, PriceSpread, cells
from backend.domain.health_stats import price_spreads as spreads
from backend.services.plan_fact import month_range
from backend.store import desk
from backend.store.engine import reports_node
from backend.store.tables import FunnelFact, PlanItem

# Fact kinds as the health department's figures: completion is known by its duration.
KINDS = {"in": "in", "executed": "executed", "started": "started", "duration": "completed"}


async def _districts() -> dict:
    return {
        c["id"]: (c["district"] or None, ZoneInfo(c["timezone"]))
        for c in await desk.clinics(include_archived=True)
    }


async def aggregates(first: str, last: str) -> list[Cell]:
    months = month_range(first, last)
    districts = await _districts()
    rows = (
        await FunnelFact.select(
            FunnelFact.month,
            FunnelFact.clinic,
            FunnelFact.specialization,
            FunnelFact.kind,
            FunnelFact.amount,
            FunnelFact.referral.patient.as_alias("patient"),
        )
        .where(FunnelFact.kind.is_in(list(KINDS)) & FunnelFact.month.is_in(months))
        .run(node=reports_node())
    )
    return cells(
        Observation(
            month=r["month"],
            district=districts.get(r["clinic"], (None,))[0],
            specialization=r["specialization"],
            patient=r["patient"],
            kind=KINDS[r["kind"]],
            amount=r["amount"],
        )
        for r in rows
    )


async def price_spreads(first: str, last: str) -> list[PriceSpread]:
    """Prices of the same item (by code) in the clinics' current plans of the referrals
    sent in each month."""
    months = month_range(first, last)
    start = datetime.fromisoformat(f"{months[0]}-01").replace(tzinfo=UTC) - timedelta(days=1)
    end = datetime.fromisoformat(f"{months[-1]}-28").replace(tzinfo=UTC) + timedelta(days=5)
    plan = PlanItem.plan
    rows = (
        await PlanItem.select(
            PlanItem.code,
            PlanItem.specialization,
            PlanItem.price,
            PlanItem.variant,
            plan.version.as_alias("version"),
            plan.chosen_variant.as_alias("chosen"),
            plan.referral.id.as_alias("referral"),
            plan.referral.patient.as_alias("patient"),
            plan.referral.clinic.as_alias("clinic"),
            plan.referral.sent_at.as_alias("sent_at"),
        )
        .where(
            (plan.origin == "actual")
            & (PlanItem.code != "")
            & (plan.referral.sent_at >= start)
            & (plan.referral.sent_at < end)
        )
        .run(node=reports_node())
    )
    latest: dict = {}
    for r in rows:
        latest[r["referral"]] = max(latest.get(r["referral"], 0), r["version"])
    districts = await _districts()
    samples = []
    for r in rows:
        if r["version"] != latest[r["referral"]]:
            continue
        if r["variant"] is not None and r["chosen"] not in (None, r["variant"]):
            continue  # an alternative the patient did not choose
        tz = districts.get(r["clinic"], (None, UTC))[1]
        month = r["sent_at"].astimezone(tz).strftime("%Y-%m")
        if month in months:
            samples.append(
                PriceSample(
                    month=month,
                    specialization=r["specialization"],
                    code=r["code"],
                    price=r["price"],
                    patient=r["patient"],
                )
            )
    return spreads(samples)

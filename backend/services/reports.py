"""The funnel in money and the scorecards, for one clinic, several, or all.

Computed by folding each referral's ledger (backend.domain.money_funnel and
backend.domain.scorecard): exact by construction, and fast enough for a clinic's or a
city district's few thousand referrals.
"""

from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.money_funnel import Funnel, month_key, period_funnel
from backend.domain.scorecard import Scorecard, scorecard
from backend.store import desk, ledger

EXCHANGE_TZ = ZoneInfo("Europe/Moscow")


def month_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, 1, tzinfo=tz)
    nxt = datetime(day.year + (day.month == 12), day.month % 12 + 1, 1, tzinfo=tz)
    return start, nxt


def period_bounds(
    first: date | None, last: date | None, tz: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """[first 00:00, last+1 00:00) in the clinic's time zone; this month by default."""
    if first is None and last is None:
        return month_bounds(now.astimezone(tz).date(), tz)
    today = now.astimezone(tz).date()
    first = first or today.replace(day=1)
    last = last or today
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    end = datetime(last.year, last.month, last.day, tzinfo=tz) + timedelta(days=1)
    return start, end


async def funnel(
    clinic_ids: list[UUID] | None,
    *,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    now: datetime,
) -> Funnel:
    histories = await ledger.histories(clinic_ids)
    return period_funnel(histories.items(), start=start, end=end, tz=tz, now=now)


class MonthFlow(msgspec.Struct, frozen=True, kw_only=True):
    month: str  # YYYY-MM
    inflow: int  # money of referrals sent that month (estimate)
    executed: int  # money of items done that month
    lost: int


async def monthly_flow(
    clinic_ids: list[UUID] | None, *, months: int, tz: ZoneInfo, now: datetime
) -> list[MonthFlow]:
    """Inflow against throughput, month by month, the last `months` months."""
    histories = list((await ledger.histories(clinic_ids)).items())
    start, _ = month_bounds(now.astimezone(tz).date(), tz)
    bounds = []
    for _ in range(months):
        prev_start, _ = month_bounds((start - timedelta(days=1)).date(), tz)
        bounds.append((start, month_bounds(start.date(), tz)[1]))
        start = prev_start
    out = []
    for first, end in reversed(bounds):
        f = period_funnel(histories, start=first, end=end, tz=tz, now=now)
        out.append(
            MonthFlow(
                month=month_key(first, tz),
                inflow=f.in_money,
                executed=f.executed_money,
                lost=f.lost_money,
            )
        )
    return out


class ClinicScore(msgspec.Struct, frozen=True, kw_only=True):
    clinic_id: UUID
    clinic_name: str
    card: Scorecard


async def scorecards(clinic_ids: list[UUID] | None, *, now: datetime) -> list[ClinicScore]:
    clinics = [c for c in await desk.clinics() if clinic_ids is None or c["id"] in clinic_ids]
    histories = await ledger.histories([c["id"] for c in clinics])
    by_clinic: dict[UUID, list] = {c["id"]: [] for c in clinics}
    for referral_id, events in histories.items():
        sent = next((e for e in events if e.kind == "sent"), None)
        if sent is not None:
            by_clinic.setdefault(sent.body.clinic_id, []).append((referral_id, events))
    return [
        ClinicScore(
            clinic_id=c["id"],
            clinic_name=c["name"],
            card=scorecard(by_clinic.get(c["id"], []), now=now),
        )
        for c in clinics
    ]

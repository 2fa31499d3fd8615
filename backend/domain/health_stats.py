"""The health department's figures: anonymised aggregates with small cells suppressed.

Input is per-referral observations that carry no identity but an opaque grouping key for
counting distinct patients (the caller's choice; it never leaves this module); output
is cells keyed by month, district and specialization, and price spreads keyed by month,
specialization and item code. Nothing in the output names or points at a person or a
referral: no names, phones, ids, hashes or clinic names.

Suppression (docs/metrics.md, "Health department"):
- a cell with fewer than MIN_PATIENTS distinct patients shows no figures at all, only
  that it is suppressed;
- inside a shown cell, a median over fewer than MIN_PATIENTS values is withheld;
- a price spread over fewer than MIN_PATIENTS patients is suppressed;
- no totals across cells are given, and periods are whole calendar months, so a
  suppressed cell cannot be recovered by subtracting shown ones.
"""

from collections.abc import Hashable, Iterable
from statistics import median, quantiles

import msgspec

MIN_PATIENTS = 5
MINUTES_PER_DAY = 24 * 60


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """One referral's fact, already placed in a month (local to its clinic)."""

    month: str
    district: str | None
    specialization: str
    patient: Hashable  # only for counting distinct patients
    kind: str  # in | completed | executed | started
    amount: int = 0  # in, executed: money; started: minutes waited; completed: days


class Cell(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    district: str | None  # None: not known
    specialization: str
    suppressed: bool
    patients: int | None = None
    plans_in: int | None = None
    plans_in_money: int | None = None
    completed: int | None = None
    executed_money: int | None = None
    median_wait_days: float | None = None
    median_duration_days: float | None = None


class PriceSample(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    specialization: str
    code: str
    price: int
    patient: Hashable


class PriceSpread(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    specialization: str
    code: str
    suppressed: bool
    plans: int | None = None
    min: int | None = None
    p25: int | None = None
    median: int | None = None
    p75: int | None = None
    max: int | None = None


def _median(values: list[float], scale: float = 1) -> float | None:
    return round(median(values) / scale, 1) if len(values) >= MIN_PATIENTS else None


def cells(observations: Iterable[Observation]) -> list[Cell]:
    groups: dict[tuple[str, str | None, str], list[Observation]] = {}
    for o in observations:
        groups.setdefault((o.month, o.district, o.specialization), []).append(o)
    out = []
    for (month, district, spec), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])
    ):
        patients = len({o.patient for o in group})
        key = {"month": month, "district": district, "specialization": spec}
        if patients < MIN_PATIENTS:
            out.append(Cell(**key, suppressed=True))
            continue
        amounts: dict[str, list[int]] = {"in": [], "executed": [], "started": [], "completed": []}
        for o in group:
            amounts[o.kind].append(o.amount)
        out.append(
            Cell(
                **key,
                suppressed=False,
                patients=patients,
                plans_in=len(amounts["in"]),
                plans_in_money=sum(amounts["in"]),
                completed=len(amounts["completed"]),
                executed_money=sum(amounts["executed"]),
                median_wait_days=_median(amounts["started"], MINUTES_PER_DAY),
                median_duration_days=_median(amounts["completed"]),
            )
        )
    return out


def price_spreads(samples: Iterable[PriceSample]) -> list[PriceSpread]:
    groups: dict[tuple[str, str, str], list[PriceSample]] = {}
    for p in samples:
        groups.setdefault((p.month, p.specialization, p.code), []).append(p)
    out = []
    for (month, spec, code), group in sorted(groups.items()):
        key = {"month": month, "specialization": spec, "code": code}
        if len({p.patient for p in group}) < MIN_PATIENTS:
            out.append(PriceSpread(**key, suppressed=True))
            continue
        prices = sorted(p.price for p in group)
        q1, q2, q3 = quantiles(prices, n=4, method="inclusive")
        out.append(
            PriceSpread(
                **key,
                suppressed=False,
                plans=len(prices),
                min=prices[0],
                p25=round(q1),
                median=round(q2),
                p75=round(q3),
                max=prices[-1],
            )
        )
    return out

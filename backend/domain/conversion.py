"""Conversion with forecast (issue 20; seed 002, IDENT's "consultation effectiveness").

Of the referrals sent in a period (local days, the clinic's zone; transfers are not new
referrals), how many got to each step — sent → contacted → booked → visited → in
treatment → completed — as known today, with the step-to-step conversion in per cent;
and the forecast: how many of those still moving will get to each step, if they move
on as the clinic's own recent referrals did.

- A referral's step is the furthest it reached (backend.domain.funnel: a walk-in
  without a booking has been booked, a declined call was a contact).
- "No treatment needed": the clinic closes the referral with the reason
  NO_TREATMENT (after the consultation, as a rule). Such a referral counts up to the
  step it reached, and is left out of the base of the steps after it: it is not a
  patient lost.
- Moving: not declined, closed, transferred or completed.
- The clinic's recent conversion into step k: of its referrals sent in the RECENT_DAYS
  up to the period's last day, those that reached k, over those that reached k plus
  those that stopped at the step before (declined, closed, transferred; not "no
  treatment needed"). Referrals still at the step before are not in it: their outcome
  is not known yet. A step with no such history converts nobody.
- Forecast of step k: those that reached it, plus for each moving referral the chance
  it gets there: the product of its clinic's conversions from its step to k.
- Coordinator: who made the clinic's first contact claim (the actor of the first
  "contacted" statement: staff:<id>, or the CRM), empty before any contact.

The report aggregates stored positions (one row per referral, rewritten with its other
derived rows) into the same counts; `conversion_table` turns counts into the table for
both, and the differential test holds the positions and counts together.
"""

from collections.abc import Iterable
from datetime import date, timedelta, tzinfo
from fractions import Fraction
from uuid import UUID

import msgspec

from backend.domain.events import Event
from backend.domain.funnel import RANK, ReferralFold, Step, fold_referral
from backend.domain.money_funnel import is_transfer, main_specialization

STEPS: tuple[str, ...] = ("sent", "contacted", "booked", "visited", "in_treatment", "completed")
NO_TREATMENT = "no_treatment_needed"  # the reason a clinic closes with: nothing to treat
RECENT_DAYS = 365
OPEN, COMPLETED, STOPPED, NOT_NEEDED = "open", "completed", "stopped", "no_treatment"


def step_index(step: Step) -> int:
    """Where a main-line step falls among STEPS (delivered counts as sent)."""
    return max(0, RANK[step] - 1)


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """One referral, as the conversion sees it."""

    clinic_id: UUID
    sent_day: date  # local, in the clinic's zone
    specialization: str
    coordinator: str
    reached: int  # index into STEPS
    status: str  # open | completed | stopped | no_treatment
    transfer: bool


def position(fold: ReferralFold, tz: tzinfo) -> Position | None:
    if fold.sent_at is None or fold.clinic_id is None:
        return None
    if fold.reached is Step.completed:
        status = COMPLETED
    elif fold.step in (Step.declined, Step.closed, Step.transferred):
        not_needed = fold.step is Step.closed and fold.closed_reason == NO_TREATMENT
        status = NOT_NEEDED if not_needed else STOPPED
    else:
        status = OPEN
    return Position(
        clinic_id=fold.clinic_id,
        sent_day=fold.sent_at.astimezone(tz).date(),
        specialization=main_specialization(fold),
        coordinator=fold.coordinator,
        reached=step_index(fold.reached),
        status=status,
        transfer=is_transfer(fold),
    )


class Count(msgspec.Struct, frozen=True, kw_only=True):
    """How many referrals of one clinic and group stand at one step, in one status."""

    clinic_id: UUID
    group: str
    reached: int
    status: str
    count: int


GROUPS = ("total", "clinic", "coordinator", "specialization")


def group_of(p: Position, by: str) -> str:
    return {
        "total": "",
        "clinic": str(p.clinic_id),
        "coordinator": p.coordinator,
        "specialization": p.specialization,
    }[by]


def counts_of(positions: Iterable[Position], by: str) -> list[Count]:
    tally: dict[tuple, int] = {}
    for p in positions:
        key = (p.clinic_id, group_of(p, by), p.reached, p.status)
        tally[key] = tally.get(key, 0) + 1
    return sorted_counts(
        Count(clinic_id=c, group=g, reached=r, status=s, count=n)
        for (c, g, r, s), n in tally.items()
    )


def sorted_counts(counts: Iterable[Count]) -> list[Count]:
    return sorted(counts, key=lambda c: (str(c.clinic_id), c.group, c.reached, c.status))


Rates = dict[UUID, list[Fraction | None]]  # per clinic: conversion into STEPS[k], k ≥ 1


def clinic_rates(recent: Iterable[Count]) -> Rates:
    """Each clinic's recent conversion into each step, from its settled referrals."""
    reached: dict[UUID, list[int]] = {}
    stopped: dict[UUID, list[int]] = {}
    for c in recent:
        reached.setdefault(c.clinic_id, [0] * len(STEPS))
        stopped.setdefault(c.clinic_id, [0] * len(STEPS))
        for k in range(c.reached + 1):
            reached[c.clinic_id][k] += c.count
        if c.status == STOPPED:
            stopped[c.clinic_id][c.reached] += c.count
    rates: Rates = {}
    for clinic, got in reached.items():
        row: list[Fraction | None] = [None]
        for k in range(1, len(STEPS)):
            settled = got[k] + stopped[clinic][k - 1]
            row.append(Fraction(got[k], settled) if settled else None)
        rates[clinic] = row
    return rates


class StepCell(msgspec.Struct, frozen=True, kw_only=True):
    step: str
    reached: int  # referrals that got this far
    base: int  # those that could: reached the step before, less "no treatment needed"
    conversion: float | None  # reached / base, per cent (one decimal)
    of_sent: float | None  # reached / sent, per cent
    forecast: float  # reached + the expected number of moving referrals, one decimal


class ConversionRow(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    referrals: int
    moving: int
    no_treatment: int
    steps: list[StepCell]


def tenths(x: Fraction) -> float:
    """Rounded half up to one decimal, exactly (no binary halves rounding to even)."""
    return float(Fraction((20 * x.numerator + x.denominator) // (2 * x.denominator), 10))


def _pct(part: int, whole: int) -> float | None:
    return tenths(Fraction(100 * part, whole)) if whole else None


def conversion_table(counts: Iterable[Count], rates: Rates) -> list[ConversionRow]:
    """One row per group (sorted by group), from the counts of the period's referrals
    and their clinics' recent rates."""
    groups: dict[str, list[Count]] = {}
    for c in counts:
        groups.setdefault(c.group, []).append(c)
    rows = []
    for group in sorted(groups):
        reached = [0] * len(STEPS)
        not_needed = [0] * len(STEPS)
        expected = [Fraction(0)] * len(STEPS)
        moving = 0
        for c in groups[group]:
            for k in range(c.reached + 1):
                reached[k] += c.count
            if c.status == NOT_NEEDED:
                not_needed[c.reached] += c.count
            if c.status != OPEN:
                continue
            moving += c.count
            chance = Fraction(1)
            for k in range(c.reached + 1, len(STEPS)):
                rate = rates.get(c.clinic_id, [None] * len(STEPS))[k]
                chance *= rate if rate is not None else 0
                expected[k] += chance * c.count
        cells = []
        for k, step in enumerate(STEPS):
            base = reached[k] if k == 0 else reached[k - 1] - not_needed[k - 1]
            cells.append(
                StepCell(
                    step=step,
                    reached=reached[k],
                    base=base,
                    conversion=_pct(reached[k], base) if k else None,
                    of_sent=_pct(reached[k], reached[0]),
                    forecast=tenths(reached[k] + expected[k]),
                )
            )
        rows.append(
            ConversionRow(
                group=group,
                referrals=reached[0],
                moving=moving,
                no_treatment=sum(not_needed),
                steps=cells,
            )
        )
    return rows


def recent_days(last: date) -> tuple[date, date]:
    """The days whose referrals give a clinic's recent conversion for a period ending
    on `last`."""
    return last - timedelta(days=RECENT_DAYS - 1), last


def period_conversion(
    histories: Iterable[tuple[UUID, list[Event], tzinfo]],
    *,
    first: date,
    last: date,
    by: str = "total",
    specialization: str | None = None,
) -> list[ConversionRow]:
    """The definition: fold every ledger, take the period's referrals (of one main
    specialization, if asked) and each of their clinics' recent ones (all cases), and
    build the table."""
    positions = [
        p for _, events, tz in histories if (p := position(fold_referral(events), tz)) is not None
    ]
    positions = [p for p in positions if not p.transfer]
    cohort = [
        p
        for p in positions
        if first <= p.sent_day <= last and specialization in (None, p.specialization)
    ]
    since, until = recent_days(last)
    clinics = {p.clinic_id for p in cohort}
    recent = [p for p in positions if since <= p.sent_day <= until and p.clinic_id in clinics]
    return conversion_table(counts_of(cohort, by), clinic_rates(counts_of(recent, "total")))

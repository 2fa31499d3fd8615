"""Small rules of the reports: the case's main specialization, averages, and the health
department's suppression."""

from uuid import uuid4

from backend.domain.events import Event, PlanLine, PlanSet, Sent, Source
from backend.domain.funnel import fold_referral
from backend.domain.health_stats import Observation, PriceSample, cells, price_spreads
from backend.domain.money_funnel import main_specialization, months_of_reserve
from backend.domain.plan_fact import average
from tests.unit.ledger_builder import CLINIC, Ledger


def estimate(*lines: tuple[str, int]) -> list[Event]:
    ledger = Ledger()
    ledger.add(Sent(clinic_id=CLINIC), hours=0, source=Source.exchange)
    plan = PlanSet(
        plan_id=uuid4(),
        version=1,
        origin="estimated",
        currency="RUB",
        lines=[PlanLine(item_id=uuid4(), specialization=s, price=p) for s, p in lines],
    )
    ledger.add(plan, hours=0, source=Source.exchange)
    return ledger.events


def test_the_main_specialization_carries_most_of_the_estimate():
    events = estimate(("therapy", 6_500_00), ("therapy", 6_500_00), ("surgery", 12_000_00))
    assert main_specialization(fold_referral(events)) == "therapy"
    # A tie goes to the specialization listed first (therapy before surgery).
    tie = estimate(("surgery", 1_000_00), ("therapy", 1_000_00))
    assert main_specialization(fold_referral(tie)) == "therapy"


def test_averages_round_half_up_and_say_when_there_is_nothing():
    assert (average(5, 2), average(7, 3), average(0, 0)) == (3, 2, None)


def obs(n: int, kind: str = "in", amount: int = 0, district: str | None = "A") -> Observation:
    return Observation(
        month="2026-10",
        district=district,
        specialization="therapy",
        patient=n,
        kind=kind,
        amount=amount,
    )


def test_small_cells_and_thin_medians_are_withheld():
    four = [obs(n) for n in range(4)] + [obs(0, "started", 60)]  # one patient twice
    [cell] = cells(four)
    assert cell.suppressed and cell.plans_in is None and cell.patients is None

    five = [obs(n) for n in range(5)] + [obs(n, "started", 24 * 60 * (n + 1)) for n in range(4)]
    [cell] = cells(five)
    assert not cell.suppressed and (cell.patients, cell.plans_in) == (5, 5)
    assert cell.median_wait_days is None  # four waits: too few to show their median
    [cell] = cells([*five, obs(4, "started", 24 * 60 * 9)])
    assert cell.median_wait_days == 3.0


def test_price_spreads_need_five_patients():
    def sample(n: int, price: int) -> PriceSample:
        return PriceSample(
            month="2026-10", specialization="therapy", code="X", price=price, patient=n
        )

    [few] = price_spreads([sample(n, 100) for n in range(4)])
    assert few.suppressed and few.min is None
    [spread] = price_spreads([sample(n, p) for n, p in enumerate([100, 200, 300, 400, 500])])
    assert (spread.min, spread.p25, spread.median, spread.p75, spread.max) == (
        100,
        200,
        300,
        400,
        500,
    )


def test_months_of_reserve_at_the_recent_pace():
    # 900 000 ₽ in reserve; 100, 200 and 300 thousand executed in the last three months.
    assert months_of_reserve(900_000_00, [100_000_00, 200_000_00, 300_000_00]) == 4.5
    assert months_of_reserve(900_000_00, [0, 0, 0]) is None

"""Conversion with forecast (issue 20), on a month computed by hand.

Clinic X, Moscow, November 2026. Six referrals sent in November:
  R1 contacted by staff:a, declined                 -> reached contacted, stopped
  R2 staff:a: booked, visited, item done, completed -> reached completed
  R3 staff:b: booked, visited, closed "no treatment needed"
  R4 staff:b: booked, still open                    -> moving at booked
  R5 nobody called yet                              -> moving at sent
  R6 staff:a: booked, visited, item done, open      -> moving at in treatment
and three sent in September (part of the clinic's recent history, not of the period):
  E1 booked, visited, item done, completed; E2 booked then closed "дорого";
  E3 declined.

The clinic's recent conversion (its referrals of the 365 days to Nov 30: all nine),
reached k / (reached k + stopped at k-1):
  into contacted 8/(8+0) = 1; booked 6/(6+2) = 3/4; visited 4/(4+1) = 4/5;
  in treatment 3/(3+0) = 1 (R3 is no loss); completed 2/(2+0) = 1.
November, all referrals: reached 6, 5, 4, 3, 2, 1; bases 6, 6, 5, 4, 3-1 = 2, 2;
conversion 83.3, 80.0, 75.0, 100.0, 50.0 %. Forecast: R5 reaches contacted 1,
booked 3/4, visited 3/5, in treatment 3/5, completed 3/5; R4 visited 4/5 and on; R6
completed 1: expected 0, 1, 0.75, 1.4, 1.4, 2.4; forecast 6, 6, 4.8, 4.4, 3.4, 3.4.
"""

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.domain.conversion import NO_TREATMENT, STEPS, period_conversion
from backend.domain.events import (
    Closed,
    Completed,
    Contacted,
    ItemDone,
    PlanLine,
    PlanSet,
    Sent,
    Source,
    Visited,
)
from tests.unit.ledger_builder import CLINIC, T0, Ledger

MSK = ZoneInfo("Europe/Moscow")
NOVEMBER = dict(first=datetime(2026, 11, 1).date(), last=datetime(2026, 11, 30).date())
A, B = UUID(int=1), UUID(int=2)


class Case(Ledger):
    def __init__(self, sent_at: datetime) -> None:
        super().__init__()
        self.at = sent_at
        lines = [
            PlanLine(item_id=A, price=10_000_00, specialization="therapy"),
            PlanLine(item_id=B, price=60_000_00, specialization="implantology", stage=2),
        ]
        plan = PlanSet(
            plan_id=UUID(int=9), version=1, origin="estimated", currency="RUB", lines=lines
        )
        self.say(plan, source=Source.exchange)
        self.say(Sent(clinic_id=CLINIC), source=Source.exchange)

    def say(self, body, *, after_hours: float = 0, source=Source.clinic_panel, actor="test"):
        self.at += timedelta(hours=after_hours)
        hours = (self.at - T0).total_seconds() / 3600
        self.add(body, hours=hours, source=source, actor=actor)
        return self

    def booked(self, by: str):
        appt = Contacted(outcome="booked", appointment_at=self.at + timedelta(days=2))
        return self.say(appt, after_hours=2, actor=by)


def november(day: int) -> datetime:
    return datetime(2026, 11, day, 10, tzinfo=MSK)


def september(day: int) -> datetime:
    return datetime(2026, 9, day, 10, tzinfo=MSK)


def histories() -> list:
    r1 = Case(november(2)).say(
        Contacted(outcome="declined", reason="дорого"), after_hours=1, actor="staff:a"
    )
    r2 = Case(november(3)).booked("staff:a").say(Visited(), after_hours=48)
    r2.say(ItemDone(item_id=A), after_hours=1).say(ItemDone(item_id=B), after_hours=24 * 10)
    r2.say(Completed(), after_hours=1)
    r3 = Case(november(4)).booked("staff:b").say(Visited(), after_hours=48)
    r3.say(Closed(reason=NO_TREATMENT), after_hours=1)
    r4 = Case(november(5)).booked("staff:b")
    r5 = Case(november(6))
    r6 = Case(november(7)).booked("staff:a").say(Visited(), after_hours=48)
    r6.say(ItemDone(item_id=A), after_hours=1)
    e1 = Case(september(1)).booked("staff:a").say(Visited(), after_hours=48)
    e1.say(ItemDone(item_id=A), after_hours=1).say(Completed(), after_hours=24 * 30)
    e2 = Case(september(2)).booked("staff:b").say(Closed(reason="дорого"), after_hours=30)
    e3 = Case(september(3)).say(
        Contacted(outcome="declined", reason="далеко"), after_hours=1, actor="staff:a"
    )
    return [(c.referral_id, c.events, MSK) for c in (r1, r2, r3, r4, r5, r6, e1, e2, e3)]


def cells(row) -> list[tuple]:
    return [(c.step, c.reached, c.base, c.conversion, c.of_sent, c.forecast) for c in row.steps]


def test_the_month_by_hand():
    [total] = period_conversion(histories(), **NOVEMBER)
    assert (total.referrals, total.moving, total.no_treatment) == (6, 3, 1)
    assert cells(total) == [
        ("sent", 6, 6, None, 100.0, 6.0),
        ("contacted", 5, 6, 83.3, 83.3, 6.0),
        ("booked", 4, 5, 80.0, 66.7, 4.8),
        ("visited", 3, 4, 75.0, 50.0, 4.4),
        ("in_treatment", 2, 2, 100.0, 33.3, 3.4),
        ("completed", 1, 2, 50.0, 16.7, 3.4),
    ]
    assert [c.step for c in total.steps] == list(STEPS)


def test_by_coordinator_who_made_the_first_contact_claim():
    rows = {r.group: r for r in period_conversion(histories(), **NOVEMBER, by="coordinator")}
    assert set(rows) == {"", "staff:a", "staff:b"}
    # Nobody has called R5 yet: forecast from the clinic's rates, 1 x 1, 3/4, 3/5, ...
    assert cells(rows[""]) == [
        ("sent", 1, 1, None, 100.0, 1.0),
        ("contacted", 0, 1, 0.0, 0.0, 1.0),
        ("booked", 0, 0, None, 0.0, 0.8),
        ("visited", 0, 0, None, 0.0, 0.6),
        ("in_treatment", 0, 0, None, 0.0, 0.6),
        ("completed", 0, 0, None, 0.0, 0.6),
    ]
    assert cells(rows["staff:a"]) == [
        ("sent", 3, 3, None, 100.0, 3.0),
        ("contacted", 3, 3, 100.0, 100.0, 3.0),
        ("booked", 2, 3, 66.7, 66.7, 2.0),
        ("visited", 2, 2, 100.0, 66.7, 2.0),
        ("in_treatment", 2, 2, 100.0, 66.7, 2.0),
        ("completed", 1, 2, 50.0, 33.3, 2.0),
    ]
    # R3 needed no treatment: not in the base of "in treatment"; R4 may still come.
    assert cells(rows["staff:b"]) == [
        ("sent", 2, 2, None, 100.0, 2.0),
        ("contacted", 2, 2, 100.0, 100.0, 2.0),
        ("booked", 2, 2, 100.0, 100.0, 2.0),
        ("visited", 1, 2, 50.0, 50.0, 1.8),
        ("in_treatment", 0, 0, None, 0.0, 0.8),
        ("completed", 0, 0, None, 0.0, 0.8),
    ]
    assert rows["staff:b"].no_treatment == 1


def test_by_specialization_and_by_clinic_add_up_to_the_total():
    [total] = period_conversion(histories(), **NOVEMBER)
    [spec] = period_conversion(histories(), **NOVEMBER, by="specialization")
    [clinic] = period_conversion(histories(), **NOVEMBER, by="clinic")
    assert spec.group == "implantology" and clinic.group == str(CLINIC)
    assert cells(spec) == cells(clinic) == cells(total)

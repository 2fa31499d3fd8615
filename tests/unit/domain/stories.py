"""A referral's story for domain tests: sent at a real local time with an estimate, then
told event by event at absolute times or hours after the sending."""

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.domain.events import Contacted, PlanLine, PlanSet, Sent, Source
from backend.domain.funnel import ReferralFold, fold_referral
from tests.unit.ledger_builder import CLINIC, T0, Ledger

MSK = ZoneInfo("Europe/Moscow")
A, B, C = UUID(int=1), UUID(int=2), UUID(int=3)
PLAN_ID = UUID(int=9)


class Story(Ledger):
    """A referral sent at `sent_at` with an estimate of `prices` (items A, B, C), or of
    `lines` when given."""

    def __init__(
        self,
        sent_at: datetime,
        prices=(10_000_00, 20_000_00),
        *,
        currency="RUB",
        specialization="therapy",
        transferred_from: UUID | None = None,
        clinic: UUID = CLINIC,
        lines: list[PlanLine] | None = None,
    ) -> None:
        super().__init__()
        self.t0 = sent_at
        lines = lines or [
            PlanLine(item_id=i, price=p, specialization=specialization)
            for i, p in zip((A, B, C), prices, strict=False)
        ]
        estimate = PlanSet(
            plan_id=PLAN_ID, version=1, origin="estimated", currency=currency, lines=lines
        )
        self.say(estimate, sent_at, Source.exchange)
        self.say(
            Sent(clinic_id=clinic, transferred_from=transferred_from), sent_at, Source.exchange
        )

    def say(self, body, at: datetime, source=Source.clinic_panel):
        return self.add(body, hours=(at - T0).total_seconds() / 3600, source=source)

    def later(self, body, hours: float, source=Source.clinic_panel):
        return self.say(body, self.t0 + timedelta(hours=hours), source)

    def revise(
        self,
        hours: float,
        prices=(),
        *,
        version: int,
        reason: str | None = "revised",
        lines: list[PlanLine] | None = None,
    ):
        """The clinic's own plan version: items A, B, C at `prices` (therapy), or `lines`."""
        lines = lines or [
            PlanLine(item_id=i, price=p, specialization="therapy")
            for i, p in zip((A, B, C), prices, strict=False)
        ]
        body = PlanSet(
            plan_id=PLAN_ID,
            version=version,
            origin="actual",
            currency="RUB",
            lines=lines,
            reason=reason,
        )
        return self.later(body, hours)

    @property
    def fold(self) -> ReferralFold:
        return fold_referral(self.events)


def booked(at: datetime) -> Contacted:
    return Contacted(outcome="booked", appointment_at=at, appointment_id=UUID(int=77))

"""Small builders for service and HTTP tests: a clinic, a referral with a plan."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from backend.domain.events import Closed, Contacted, Source
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services import patient_links
from backend.services.recording import Statement, record
from backend.services.referrals import (
    PatientIn,
    PlanIn,
    PlanItemIn,
    SentReferral,
    ToothIn,
    send_referral,
)
from backend.store import parties

NOW = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # Monday, 10:00 in Moscow


def hours(n: float) -> datetime:
    return NOW + timedelta(hours=n)


async def make_clinic(
    name: str = "Улыбка", timezone: str = "Europe/Moscow", clinic_id: UUID | None = None
) -> UUID:
    clinic_id = clinic_id or new_id()
    await parties.insert_clinic(
        clinic_id=clinic_id,
        name=name,
        city="Москва",
        timezone=timezone,
        now=NOW,
        address="ул. Тверская, 1",
        phone="+74951234567",
    )
    return clinic_id


PLAN = PlanIn(
    items=[
        PlanItemIn(
            specialization="therapy",
            price=6_500_00,
            title_ru="Лечение кариеса",
            title_en="Caries treatment",
            tooth=16,
            code="A16.07.002",
        ),
        PlanItemIn(
            specialization="implantology",
            price=65_000_00,
            title_ru="Имплант",
            title_en="Implant",
            tooth=36,
            stage=2,
            code="A16.07.054",
        ),
    ],
    teeth=[
        ToothIn(tooth=16, phase="before", condition="caries"),
        ToothIn(tooth=16, phase="after", condition="filled"),
        ToothIn(tooth=36, phase="before", condition="missing"),
        ToothIn(tooth=36, phase="after", condition="implant"),
    ],
)


async def make_referral(
    clinic_id: UUID,
    phone: str = "+79161234567",
    at=NOW,
    key: str | None = None,
    *,
    name: str = "Анна Иванова",
    plan: PlanIn = PLAN,
) -> SentReferral:
    """A referral the exchange sent at `at` (with `plan`, PLAN unless given)."""
    return await send_referral(
        patient=PatientIn(phone=phone, name=name),
        clinic_id=clinic_id,
        plan=plan,
        source=Source.exchange,
        actor="test",
        idempotency_key=key,
        now=at,
    )


def clinic_says(body, **more) -> Statement:
    """The clinic's word (`body`, an event) as its panel records it (`more`: as
    `Statement` takes it, e.g. `occurred_at`)."""
    return Statement(body=body, source=Source.clinic_panel, actor="staff:test", **more)


async def book(
    referral_id: UUID,
    appointment_at: datetime,
    occurred_at: datetime | None = None,
    now: datetime | None = None,
):
    """The clinic's word that it called and booked the patient (a question follows),
    recorded at `now` (the clock's time by default)."""
    booked = Contacted(outcome="booked", appointment_at=appointment_at)
    return await record(referral_id, clinic_says(booked, occurred_at=occurred_at), now=now)


async def close(referral_id: UUID, reason: str, occurred_at: datetime | None = None):
    """The clinic's word that the referral is over (`reason`), as of `occurred_at`."""
    return await record(referral_id, clinic_says(Closed(reason=reason), occurred_at=occurred_at))


async def page_token(
    secret: str, referral_id: UUID, patient_id: UUID, now: datetime | None = None
) -> str:
    """The token of the patient's own page for a referral (/p/{token}), as the SMS gives it."""
    _, token = await patient_links.mint(
        secret=secret,
        referral_id=referral_id,
        patient_id=patient_id,
        question_id=None,
        now=now or utcnow(),
    )
    return token

"""The peer: the patient's plan screen the way most teams would write it — FastAPI,
SQLAlchemy 2 async ORM (asyncpg) with declarative models over the same tables, eager
loading through relationships, the handler returning a dict that FastAPI encodes.

It shares with plantrack only what is not being compared: the token check and the pure
domain (fold, verification, progress) and presentation that turn rows into the screen,
so both serve the same JSON (the benchmark compares a sample before loading). What
differs is the framework, the data access and the serialisation. Served by the same
server and workers as ours:

    PLANTRACK_DATABASE_URL=postgresql://… PLANTRACK_SECRET_KEY=… \\
        granian --interface asgi --factory bench.peers.plan_screen_fastapi:create_app
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from fastapi import Depends, FastAPI, Header, HTTPException
from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, SmallInteger, String, Text, select
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP, UUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload

from backend.auth.tokens import PATIENT_AUDIENCE, InvalidToken, key_ring, read_access
from backend.domain import plans as domain_plans
from backend.domain.derive import progress_of
from backend.domain.events import Event as LedgerEvent
from backend.domain.events import EventBody, Side, Source
from backend.domain.funnel import fold_referral
from backend.domain.norms import DurationNorm as Norm
from backend.domain.norms import Specialization, effective_norms
from backend.domain.verification import VerificationPolicy, verify
from backend.routes import patient_present as present
from backend.services.patient_reads import ReferralBundle, ReferralRow
from backend.services.referral_view import ClinicCard, PatientCard, PlanVersion
from backend.settings import load_settings

Stamp = TIMESTAMP(timezone=True)


class Base(DeclarativeBase):
    pass


class Clinic(Base):
    __tablename__ = "clinic"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    city: Mapped[str] = mapped_column(String)
    address: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String)
    timezone: Mapped[str] = mapped_column(String)
    first_contact_sla_minutes: Mapped[int | None] = mapped_column(Integer)
    show_prices_to_patients: Mapped[bool] = mapped_column(Boolean)


class Patient(Base):
    __tablename__ = "patient"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    phone: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    locale: Mapped[str] = mapped_column(String)
    timezone: Mapped[str] = mapped_column(String)
    erased_at: Mapped[datetime | None] = mapped_column(Stamp)


class Event(Base):
    __tablename__ = "event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(
        "referral", UUID, ForeignKey("referral.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String)
    source: Mapped[str] = mapped_column(String)
    side: Mapped[str] = mapped_column(String)
    actor: Mapped[str] = mapped_column(String)
    occurred_at: Mapped[datetime] = mapped_column(Stamp)
    recorded_at: Mapped[datetime] = mapped_column(Stamp)
    idempotency_key: Mapped[str] = mapped_column(String)
    payload: Mapped[Any] = mapped_column(JSONB(none_as_null=True))


class PlanItem(Base):
    __tablename__ = "plan_item"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column("plan", UUID, ForeignKey("plan.id"))
    item_id: Mapped[uuid.UUID] = mapped_column(UUID)
    position: Mapped[int] = mapped_column(SmallInteger)
    stage: Mapped[int] = mapped_column(SmallInteger)
    variant: Mapped[str | None] = mapped_column(String)
    specialization: Mapped[str] = mapped_column(String)
    code: Mapped[str] = mapped_column(String)
    title_ru: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    tooth: Mapped[int | None] = mapped_column(SmallInteger)
    price: Mapped[int] = mapped_column(BigInteger)
    chair_minutes: Mapped[int | None] = mapped_column(Integer)
    course_days: Mapped[int | None] = mapped_column(Integer)


class ToothState(Base):
    __tablename__ = "tooth_state"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column("plan", UUID, ForeignKey("plan.id"))
    tooth: Mapped[int] = mapped_column(SmallInteger)
    phase: Mapped[str] = mapped_column(String)
    condition: Mapped[str] = mapped_column(String)
    note: Mapped[str] = mapped_column(Text)


class Plan(Base):
    __tablename__ = "plan"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column("referral", UUID, ForeignKey("referral.id"))
    version: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String)
    chosen_variant: Mapped[str | None] = mapped_column(String)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    created_by: Mapped[str] = mapped_column(String)
    items: Mapped[list[PlanItem]] = relationship(
        order_by=(PlanItem.stage, PlanItem.position), lazy="raise"
    )
    teeth: Mapped[list[ToothState]] = relationship(lazy="raise")


class Referral(Base):
    __tablename__ = "referral"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    patient_id: Mapped[uuid.UUID] = mapped_column("patient", UUID, ForeignKey("patient.id"))
    clinic_id: Mapped[uuid.UUID] = mapped_column("clinic", UUID, ForeignKey("clinic.id"))
    sent_at: Mapped[datetime] = mapped_column(Stamp)
    archived_at: Mapped[datetime | None] = mapped_column(Stamp)
    # The rest of the row, as the service's ReferralRow carries it.
    invite_code: Mapped[str] = mapped_column(String)
    transferred_from: Mapped[uuid.UUID | None] = mapped_column(UUID)
    step: Mapped[str] = mapped_column(String)
    reached: Mapped[str] = mapped_column(String)
    step_at: Mapped[Any] = mapped_column(JSONB)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(Stamp)
    currency: Mapped[str] = mapped_column(String)
    estimated_amount: Mapped[int] = mapped_column(Integer)
    planned_amount: Mapped[int] = mapped_column(Integer)
    accepted_amount: Mapped[int] = mapped_column(Integer)
    executed_amount: Mapped[int] = mapped_column(Integer)
    paid_amount: Mapped[int] = mapped_column(Integer)
    remaining_amount: Mapped[int] = mapped_column(Integer)
    lost_amount: Mapped[int] = mapped_column(Integer)
    schedule: Mapped[str] = mapped_column(String)
    expected_finish: Mapped[datetime | None] = mapped_column(Stamp)
    disputed_count: Mapped[int] = mapped_column(Integer)
    overdue_count: Mapped[int] = mapped_column(Integer)
    verification_due_at: Mapped[datetime | None] = mapped_column(Stamp)
    chosen_variant: Mapped[str | None] = mapped_column(String)
    variant_chosen_by: Mapped[str | None] = mapped_column(String)
    folded_event_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    updated_at: Mapped[datetime] = mapped_column(Stamp)
    clinic: Mapped[Clinic] = relationship(lazy="raise")
    patient: Mapped[Patient] = relationship(lazy="raise")
    events: Mapped[list[Event]] = relationship(order_by=Event.id, lazy="raise")
    plans: Mapped[list[Plan]] = relationship(order_by=Plan.version, lazy="raise")


class Question(Base):
    __tablename__ = "question"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    referral_id: Mapped[uuid.UUID] = mapped_column("referral", UUID)
    patient_id: Mapped[uuid.UUID] = mapped_column("patient", UUID)
    kind: Mapped[str] = mapped_column(String)
    milestone: Mapped[str] = mapped_column(String)
    subject: Mapped[str] = mapped_column(String)
    about_at: Mapped[datetime | None] = mapped_column(Stamp)
    item_id: Mapped[uuid.UUID | None] = mapped_column(UUID)
    status: Mapped[str] = mapped_column(String)
    asked_at: Mapped[datetime] = mapped_column(Stamp)
    expires_at: Mapped[datetime] = mapped_column(Stamp)


class PatientSession(Base):
    __tablename__ = "patient_session"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    family: Mapped[uuid.UUID] = mapped_column(UUID)
    revoked_at: Mapped[datetime | None] = mapped_column(Stamp)


class DurationNorm(Base):
    __tablename__ = "duration_norm"
    id: Mapped[uuid.UUID] = mapped_column(UUID, primary_key=True)
    scope: Mapped[str] = mapped_column(String)
    specialization: Mapped[str] = mapped_column(String)
    chair_minutes: Mapped[int] = mapped_column(Integer)
    course_days: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)


def _columns(obj: Base) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs}


def _version(plan: Plan | None) -> PlanVersion | None:
    if plan is None:
        return None
    items = [
        domain_plans.PlanItem(**{f: getattr(i, f) for f in domain_plans.PlanItem.__struct_fields__})
        for i in plan.items
    ]
    return PlanVersion(
        id=plan.id,
        version=plan.version,
        origin=plan.origin,
        reason=plan.reason,
        chosen_variant=plan.chosen_variant,
        created_at=plan.created_at,
        created_by=plan.created_by,
        variant=domain_plans.counted_variant(items, plan.chosen_variant),
        items=items,
        teeth=[
            domain_plans.ToothState(
                tooth=t.tooth, phase=t.phase, condition=t.condition, note=t.note
            )
            for t in plan.teeth
        ],
    )


def create_app() -> FastAPI:
    settings = load_settings()
    url = settings.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url, pool_size=settings.db_pool_size)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    ring = key_ring(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(title="plan screen peer", lifespan=lifespan)

    async def db() -> Any:
        async with sessions() as session:
            yield session

    async def patient(
        session: Annotated[AsyncSession, Depends(db)],
        authorization: Annotated[str, Header()] = "",
    ) -> uuid.UUID:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            raise HTTPException(401, "sign in first")
        try:
            claims = read_access(ring, token, audience=PATIENT_AUDIENCE, now=datetime.now(UTC))
        except InvalidToken as exc:
            raise HTTPException(401, str(exc)) from exc
        revoked = await session.scalar(
            select(PatientSession.id).where(
                PatientSession.family == claims.session, PatientSession.revoked_at.is_not(None)
            )
        )
        if revoked is not None or claims.role != "patient":
            raise HTTPException(401, "this session has ended")
        return claims.subject

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/me/referrals/{referral_id}")
    async def plan_screen(
        referral_id: uuid.UUID,
        patient_id: Annotated[uuid.UUID, Depends(patient)],
        session: Annotated[AsyncSession, Depends(db)],
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        referral = await session.scalar(
            select(Referral)
            .where(Referral.id == referral_id)
            .options(
                selectinload(Referral.clinic),
                selectinload(Referral.patient),
                selectinload(Referral.events),
                selectinload(Referral.plans).selectinload(Plan.items),
                selectinload(Referral.plans).selectinload(Plan.teeth),
            )
        )
        if referral is None or referral.patient_id != patient_id or referral.archived_at:
            raise HTTPException(404, "no such referral")
        scopes = ["exchange", str(referral.clinic_id)]
        norm_rows = sorted(
            (
                await session.scalars(select(DurationNorm).where(DurationNorm.scope.in_(scopes)))
            ).all(),
            key=lambda r: scopes.index(r.scope),
        )
        norms = effective_norms(
            [
                Norm(
                    specialization=Specialization(r.specialization),
                    chair_minutes=r.chair_minutes,
                    course_days=r.course_days,
                    source=r.source,
                )
                for r in norm_rows
            ]
        )
        questions = (
            await session.scalars(
                select(Question)
                .where(
                    Question.patient_id == patient_id,
                    Question.status == "requested",
                    Question.expires_at > now,
                )
                .order_by(Question.asked_at, Question.id)
                .limit(500)
            )
        ).all()
        fold = fold_referral([_event(e) for e in referral.events])
        estimated = next((p for p in reversed(referral.plans) if p.origin == "estimated"), None)
        actual = next((p for p in reversed(referral.plans) if p.origin == "actual"), None)
        bundle = ReferralBundle(
            referral=msgspec.convert(
                {**_columns(referral), "patient": patient_id, "clinic": referral.clinic_id},
                ReferralRow,
                strict=False,
            ),
            clinic=msgspec.convert(
                {
                    **_columns(referral.clinic),
                    "show_prices": referral.clinic.show_prices_to_patients,
                },
                ClinicCard,
            ),
            patient=msgspec.convert(_columns(referral.patient), PatientCard),
            tz=ZoneInfo(referral.patient.timezone),
            fold=fold,
            # The default deadlines: the peer has no settings tables.
            verifications=verify(fold, now, VerificationPolicy()),
            progress=progress_of(fold, norms, now),
            estimated=_version(estimated),
            actual=_version(actual),
            open_questions=[
                {**_columns(q), "referral": q.referral_id, "patient": q.patient_id}
                for q in questions
                if q.referral_id == referral_id
            ],
        )
        return msgspec_builtins(present.referral(bundle))

    return app


def _event(row: Event) -> LedgerEvent:
    """A ledger row as the domain's event; the JSONB payload arrives decoded already."""
    return LedgerEvent(
        id=row.id,
        referral_id=row.referral_id,
        source=Source(row.source),
        side=Side(row.side),
        actor=row.actor,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        idempotency_key=row.idempotency_key,
        body=msgspec.convert(row.payload, EventBody),
    )


def msgspec_builtins(out: Any) -> Any:
    """The screen as plain dicts and lists, for FastAPI's own encoder (as a team would
    return a dict or a Pydantic model)."""
    return msgspec.to_builtins(out)

"""The one door into the ledger, for every source: panel, CRM, MIS, app, exchange.

Recording a statement, in one transaction: lock the referral, fold what is known,
ask the domain whether the statement may be made, append it (once per source and
idempotency key), fold again, and rewrite what follows from the ledger — the
referral's step and money, its verifications and appointments, the questions for
the patient — with an outbox message for each new question.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.authority import Refusal, RefusalKind, check_statement
from backend.domain.conversion import position as conversion_position
from backend.domain.events import Body, Contacted, Correction, Event, Source, side_of
from backend.domain.funnel import ReferralFold, fold_referral
from backend.domain.funnel_facts import referral_facts
from backend.domain.money_funnel import treatment_start
from backend.domain.norms import Norms
from backend.domain.progress import Progress, plan_progress
from backend.domain.questions import plan_questions
from backend.domain.verification import VerificationPolicy, verify
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services.errors import Conflict, Forbidden, Invalid, NotFound
from backend.store import (
    appointments,
    conversion,
    funnel_facts,
    ledger,
    norms,
    parties,
    questions,
    referrals,
    verifications,
)
from backend.store.engine import write_transaction
from backend.store.rows import ClinicCard, ClinicRow


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    """Something a source says about a referral, before it is in the ledger."""

    body: Body
    source: Source
    actor: str
    idempotency_key: str | None = None
    occurred_at: datetime | None = None


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    event: Event
    duplicate: bool  # this delivery was already in the ledger; nothing changed
    fold: ReferralFold


async def record(
    referral_id: UUID, statement: Statement, *, now: datetime | None = None
) -> Recorded:
    """Record one statement about a referral. Raises NotFound, Forbidden, Invalid, Conflict."""
    now = now or utcnow()
    async with write_transaction():
        referral = await referrals.lock(referral_id)
        if referral is None:
            raise NotFound("no such referral")
        return (await record_locked(referral, [statement], now))[0]


async def record_locked(
    referral: dict[str, Any], statements: list[Statement], now: datetime
) -> list[Recorded]:
    """Record statements about a referral the caller has locked (see referrals.lock)."""
    referral_id = referral["id"]
    events = await ledger.events_of(referral_id)
    results: list[tuple[Event, bool]] = []
    fold = before = fold_referral(events)
    for statement in statements:
        event, duplicate = await _append(referral_id, statement, events, fold, now)
        if not duplicate:
            events.append(event)
            fold = fold_referral(events)
        results.append((event, duplicate))
    if any(not duplicate for _, duplicate in results):
        from backend.services import staff_alerts  # it reads recording's policy

        await refresh(referral, events, now, fold=fold)
        new_events = [e for e, duplicate in results if not duplicate]
        await staff_alerts.after_record(referral, before, fold, new_events, now)
    return [Recorded(event=e, duplicate=d, fold=fold) for e, d in results]


async def _append(
    referral_id: UUID,
    statement: Statement,
    events: list[Event],
    fold: ReferralFold,
    now: datetime,
) -> tuple[Event, bool]:
    key = statement.idempotency_key or f"auto:{new_id()}"
    # A redelivery is answered as the first delivery was, before any check that the
    # referral's later state might now fail. Most land on the same referral, whose
    # events are in hand; a key used on another referral is caught by the insert.
    existing = next(
        (e for e in events if e.source == statement.source and e.idempotency_key == key), None
    )
    if existing is not None:
        return _same_delivery(existing, referral_id, statement), True

    body = _completed(statement.body)
    side = side_of(statement.source, body)
    occurred_at = statement.occurred_at or now
    retracts_side = None
    if isinstance(body, Correction):
        target = next((e for e in events if e.id == body.retracts), None)
        retracts_side = target.side if target is not None else None
    refusal = check_statement(
        side, body, fold, occurred_at=occurred_at, now=now, retracts_side=retracts_side
    )
    if refusal is not None:
        raise _error(refusal)

    event = await ledger.append(
        referral_id=referral_id,
        body=body,
        source=statement.source,
        actor=statement.actor,
        occurred_at=occurred_at,
        recorded_at=now,
        idempotency_key=key,
    )
    if event is None:  # lost a race to an identical delivery
        existing = await ledger.by_key(statement.source, key)
        assert existing is not None
        return _same_delivery(existing, referral_id, statement), True
    return event, False


def _same_delivery(existing: Event, referral_id: UUID, statement: Statement) -> Event:
    """A repeated idempotency key must carry the same statement about the same referral."""
    same = existing.referral_id == referral_id and type(existing.body) is type(statement.body)
    if not same:
        raise Conflict(
            "this idempotency key was already used for a different statement",
            idempotency_key=statement.idempotency_key,
        )
    return existing


def _completed(body: Body) -> Body:
    """Fill in what the ledger needs that a source does not send."""
    if isinstance(body, Contacted) and body.outcome == "booked" and body.appointment_id is None:
        return msgspec.structs.replace(body, appointment_id=new_id())
    return body


def _error(refusal: Refusal) -> Exception:
    cls = {
        RefusalKind.forbidden: Forbidden,
        RefusalKind.invalid: Invalid,
        RefusalKind.conflict: Conflict,
    }[refusal.kind]
    return cls(refusal.message)


async def policy_for(clinic: ClinicRow | ClinicCard) -> VerificationPolicy:
    """The clinic's verification policy: its first-contact SLA counted in its working
    hours and holidays (so "overdue" comes when its patient is asked), its answer
    windows (backend.services.clinic_settings). `clinic`: its row."""
    from backend.services.clinic_settings import policy_for as settings_policy

    return await settings_policy(clinic)


async def refresh(
    referral: dict[str, Any],
    events: list[Event],
    now: datetime,
    *,
    fold: ReferralFold | None = None,
) -> ReferralFold:
    """Rewrite everything derived from a referral's ledger, as of `now`: its step and
    money, verifications, appointments, questions and the timers its state calls for."""
    from backend.services import staff_alerts
    from backend.services.notifications import notify, schedule_timers

    referral_id = referral["id"]
    fold = fold or fold_referral(events)
    clinic = await parties.clinic(referral["clinic"])
    assert clinic is not None  # clinics are never deleted
    tz = ZoneInfo(clinic.timezone)
    policy = await policy_for(clinic)
    verdicts = verify(fold, now, policy)
    asked = await questions.asked_for(referral_id)
    plan = plan_questions(fold, verdicts, asked, now=now, policy=policy)
    norm_table = await norms.norms_for(referral["clinic"])
    progress = progress_of(fold, norm_table, now)

    await referrals.save_fold(referral_id, fold, verdicts, progress, now)
    await funnel_facts.replace(
        referral_id,
        referral["clinic"],
        referral_facts(events, tz, now, policy, fold=fold, verdicts=verdicts, norms=norm_table),
    )
    await conversion.replace(referral_id, conversion_position(events, tz, fold))
    await verifications.save_all(referral_id, verdicts, now)
    await appointments.save_all(referral_id, fold.appointments, now)
    await questions.withdraw(list(plan.withdraw))
    for spec in plan.ask:
        question_id = new_id()
        await questions.insert(
            question_id=question_id,
            referral_id=referral_id,
            patient_id=referral["patient"],
            spec=spec,
            now=now,
        )
        await notify(
            patient_id=referral["patient"],
            referral_id=referral_id,
            kind="question",
            question_id=question_id,
            dedupe_key=f"notify:question:{question_id}",
            now=now,
        )
    if plan.ask or plan.withdraw:
        asked = await questions.asked_for(referral_id)
    await schedule_timers(referral, fold, asked, now)
    await staff_alerts.after_refresh(referral, fold, progress.schedule.value, now, clinic=clinic)
    return fold


def progress_of(fold: ReferralFold, norm_table: Norms, now: datetime) -> Progress:
    """The plan's progress as the domain defines it (one definition for every reader)."""
    appt = fold.current_appointment
    return plan_progress(
        fold.plan.chosen_lines() if fold.plan else (),
        fold.done_items,
        started_at=treatment_start(fold),
        planned_start=appt.starts_at if appt else None,
        norms=norm_table,
        now=now,
    )


async def reevaluate_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Re-fold referrals whose verification deadlines have passed (awaiting → unverified,
    pending → overdue, with the questions that follow). Returns how many."""
    now = now or utcnow()
    done = 0
    for referral_id in await referrals.due_for_reevaluation(now, limit):
        async with write_transaction():
            referral = await referrals.lock(referral_id)
            if referral is None:
                continue
            await refresh(referral, await ledger.events_of(referral_id), now)
            done += 1
    return done


async def refold_all(
    *,
    only_missing_facts: bool = False,
    clinic_id: UUID | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rewrite every referral's derived rows from its ledger (after a release adds a
    derived table, or to repair): one transaction per referral. Returns how many."""
    now = now or utcnow()
    ids = await referrals.ids_to_refold(only_missing_facts, clinic_id=clinic_id)
    for done, referral_id in enumerate(ids, start=1):
        await refold_one(referral_id, now)
        if progress is not None:
            progress(done, len(ids))
    return len(ids)


async def refold_one(referral_id: UUID, now: datetime) -> None:
    """Rewrite one referral's derived rows, in its own transaction."""
    async with write_transaction():
        referral = await referrals.lock(referral_id)
        if referral is not None:
            await refresh(referral, await ledger.events_of(referral_id), now)

"""The one door into the ledger, for every source: panel, CRM, MIS, app, exchange.

Recording a statement is one transaction of three moves. Load: the referral's row
under a lock (it carries the clinic's zone and SLA), its ledger, its questions and its
clinic's rules. Decide: the domain checks the statement (`authority`), folds the ledger
and derives everything that follows from it (`domain.derive`). Save: the event, the
referral's step and money, its verifications, appointments, questions, funnel facts and
conversion position, the timers its state wants, and an outbox message per new question.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from backend.domain.authority import Refusal, RefusalKind, check_statement
from backend.domain.derive import ClinicRules, Derived, derive
from backend.domain.events import (
    Body,
    Contacted,
    Correction,
    Event,
    PatientAnswer,
    Source,
    side_of,
)
from backend.domain.funnel import (
    FOLD_VERSION,
    FoldState,
    ReferralFold,
    advance,
    finish,
    fold_state,
)
from backend.domain.questions import QuestionSpec
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services import changes, staff_alerts
from backend.services.clinic_settings import rules_for
from backend.services.errors import Conflict, Forbidden, Invalid, NotFound
from backend.services.notifications import notify
from backend.store import (
    appointments,
    conversion,
    funnel_facts,
    ledger,
    outbox,
    questions,
    recording_reads,
    referrals,
    verifications,
)
from backend.store.engine import write_transaction
from backend.store.rows import LockedReferral

REMINDER_TIMER = "timer"  # topic of a patient's reminders (backend.services.timers)
TIMER_TOPICS = (REMINDER_TIMER, staff_alerts.TIMER)


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
    referral_id: UUID,
    statement: Statement,
    *,
    now: datetime | None = None,
    clinic_id: UUID | None = None,
) -> Recorded:
    """Record one statement about a referral (of `clinic_id`'s, when given: staff of a
    clinic see no other's; the lock row carries the clinic, so this costs no read).
    Raises NotFound, Forbidden, Invalid, Conflict."""
    now = now or utcnow()
    async with write_transaction():
        referral = await referrals.lock(referral_id)
        if referral is None or (clinic_id is not None and referral.clinic != clinic_id):
            raise NotFound("no such referral")
        return (await record_locked(referral, [statement], now))[0]


async def record_locked(
    referral: LockedReferral,
    statements: list[Statement],
    now: datetime,
    *,
    answering: UUID | None = None,
) -> list[Recorded]:
    """Record statements about a referral the caller has locked (see referrals.lock).
    `answering`: the question the statements answer: marked answered with the event
    that answers it (in the same statement on PostgreSQL), and see `refresh`.

    The fold in progress stored with the referral takes each new statement that sorts
    after everything it has seen (`advance`); the ledger is read only when one does not
    (a late or back-dated statement, a correction, a ruling), or when the stored fold is
    not of the whole ledger."""
    referral_id = referral.id
    stored = await load(referral_id)
    history = _History(referral_id)
    state = await current_state(referral, stored, history)
    fold = before = finish(state)
    results: list[tuple[Event, bool]] = []
    for statement in statements:
        event, duplicate = await _append(referral_id, statement, history, fold, now, answering)
        if not duplicate:
            history.add(event)
            if not advance(state, event):
                state = fold_state(await history.events())
            fold = finish(state)
        results.append((event, duplicate))
    if any(not duplicate for _, duplicate in results):
        rules = await rules_of(referral)
        moved = [a.id for a in fold.appointments if a not in before.appointments]
        await refresh(
            referral, stored, now, state=state, rules=rules, moved=moved, answering=answering
        )
        new_events = [e for e, duplicate in results if not duplicate]
        await staff_alerts.after_record(referral, before, fold, new_events, now, rules=rules)
    return [Recorded(event=e, duplicate=d, fold=fold) for e, d in results]


class _History:
    """A locked referral's ledger, read once and only if a recording needs it."""

    def __init__(self, referral_id: UUID) -> None:
        self.referral_id = referral_id
        self._events: list[Event] | None = None

    async def events(self) -> list[Event]:
        if self._events is None:
            self._events = await ledger.events_of(self.referral_id)
        return self._events

    def add(self, event: Event) -> None:
        """An event this transaction appended (a later read sees it by itself)."""
        if self._events is not None:
            self._events.append(event)


async def _append(
    referral_id: UUID,
    statement: Statement,
    history: _History,
    fold: ReferralFold,
    now: datetime,
    answering: UUID | None = None,
) -> tuple[Event, bool]:
    key = statement.idempotency_key or f"auto:{new_id()}"
    body = _completed(statement.body)
    side = side_of(statement.source, body)
    occurred_at = statement.occurred_at or now
    retracts_side = None
    if isinstance(body, Correction):
        target = next((e for e in await history.events() if e.id == body.retracts), None)
        retracts_side = target.side if target is not None else None
    refusal = check_statement(
        side, body, fold, occurred_at=occurred_at, now=now, retracts_side=retracts_side
    )
    if refusal is not None:
        # A redelivery is answered as the first delivery was, although the referral's
        # later state now fails the check; the insert below catches the others.
        existing = await ledger.by_key(statement.source, key)
        if existing is not None:
            return _same_delivery(existing, referral_id, statement), True
        raise _error(refusal)

    event = await ledger.append(
        referral_id=referral_id,
        body=body,
        source=statement.source,
        actor=statement.actor,
        occurred_at=occurred_at,
        recorded_at=now,
        idempotency_key=key,
        answers=(answering, body.answer)
        if isinstance(body, PatientAnswer) and body.question_id == answering
        else None,
    )
    if event is None:  # a redelivery, or a lost race to an identical delivery
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


async def rules_of(referral: LockedReferral) -> ClinicRules:
    """The rules of a locked referral's clinic (its zone, SLA and the epoch its rules
    are kept under come with the lock)."""
    return await rules_for(
        referral.clinic,
        referral.clinic_timezone,
        referral.clinic_sla_minutes,
        epoch=referral.rules_epoch,
    )


async def current_state(
    referral: LockedReferral, stored: recording_reads.Stored, history: _History | None = None
) -> FoldState:
    """The fold in progress stored with the referral, if it is of this fold version and
    saw the newest event in the ledger (as every recording leaves it); else the fold of
    the ledger from scratch."""
    state = referrals.decode_state(referral.fold_state)
    if state is not None and state.version == FOLD_VERSION and state.last_event_id == stored.newest:
        return state
    return fold_state(await (history or _History(referral.id)).events())


async def load(referral_id: UUID) -> recording_reads.Stored:
    """What a recording reads of a referral it holds locked (see `refresh`)."""
    return await recording_reads.load(referral_id, TIMER_TOPICS)


async def refresh(
    referral: LockedReferral,
    stored: recording_reads.Stored,
    now: datetime,
    *,
    state: FoldState | None = None,
    rules: ClinicRules | None = None,
    moved: list[UUID] | None = None,
    screen_changed: bool = True,
    answering: UUID | None = None,
) -> ReferralFold:
    """Rewrite everything derived from a referral's ledger (its fold, with the derived
    rows as `load` read them), as of `now`: its step and money, verifications,
    appointments, questions and the timers its state calls for, by difference,
    and note for the patient's app what changed (backend.services.changes): the
    referral unless `screen_changed` is False (a timer's look, a refold) and nothing it
    shows moved, the questions asked or withdrawn, the appointments events `moved`
    (only those are written; all when None: a timer's look, a refold).
    `state`: the fold in progress of the ledger, when the caller has it. `answering`: the
    question the new event answers — the caller marks it answered, so it is not withdrawn
    here, and it is noted with the rest in one change."""
    referral_id, asked = referral.id, stored.asked
    state = state or await current_state(referral, stored)
    fold = finish(state)
    rules = rules or await rules_of(referral)
    derived = derive(fold, asked, rules, now)

    await referrals.save_fold(referral_id, state, fold, derived.verdicts, derived.progress, now)
    await funnel_facts.replace(referral_id, referral.clinic, derived.facts, stored.facts)
    await conversion.replace(referral_id, derived.conversion, stored.conversion)
    await verifications.save_all(referral_id, derived.verdicts, now, stored.verifications)
    changed = [a for a in fold.appointments if moved is None or a.id in moved]
    await appointments.save_all(referral_id, tuple(changed), now)
    withdrawn = [q for q in derived.questions.withdraw if q != answering]
    await questions.withdraw(withdrawn)
    # Nor is the patient told of a withdrawn question, if the notice still waits (quiet hours).
    await outbox.cancel(
        [key for q in asked if q.id in withdrawn for key in _question_notices(q.id, q.asked_at)],
        now,
    )
    noted: list[changes.Change] = [
        (changes.QUESTION, q, referral_id)
        for q in ([answering, *withdrawn] if answering else withdrawn)
    ] + [(changes.APPOINTMENT, a, referral_id) for a in moved or ()]
    for spec in derived.questions.ask:
        question_id = await ask(referral, spec, now)
        noted.append((changes.QUESTION, question_id, referral_id))
        await notify(
            patient_id=referral.patient,
            referral_id=referral_id,
            kind="question",
            question_id=question_id,
            dedupe_key=_question_notices(question_id, now)[1 if spec.again else 0],
            now=now,
        )
    await outbox.keep_timers(referral_id, stored.timers, _timers_wanted(referral_id, derived), now)
    if screen_changed or noted or derived.progress.schedule.value != referral.schedule:
        noted.insert(0, (changes.REFERRAL, referral_id, referral_id))
    await changes.note(referral.patient, noted, now)
    await staff_alerts.after_refresh(referral, fold, derived.progress.schedule.value, now, rules)
    return fold


async def ask(referral: LockedReferral, spec: QuestionSpec, now: datetime) -> UUID:
    """Put a question to the referral's patient (the caller notifies and notes it); a
    withdrawn one asked again keeps its id."""
    if spec.again is not None:
        await questions.ask_again(spec.again, spec, now)
        return spec.again
    question_id = new_id()
    await questions.insert(
        question_id=question_id,
        referral_id=referral.id,
        patient_id=referral.patient,
        spec=spec,
        now=now,
    )
    return question_id


def _question_notices(question_id: UUID, asked_at: datetime | None) -> list[str]:
    """The dedupe keys of a question's notice: when first asked, and when asked again
    (at `asked_at`, after a reopening)."""
    first = f"notify:question:{question_id}"
    if asked_at is None:
        return [first]
    return [first, f"{first}:{asked_at.astimezone(UTC).isoformat(timespec='seconds')}"]


def _timers_wanted(referral_id: UUID, derived: Derived) -> list[outbox.Timer]:
    """The outbox timers a referral's state wants: the patient's reminders
    (backend.services.timers) and its staff alerts (backend.services.staff_alerts)."""
    return [
        outbox.Timer(
            topic=REMINDER_TIMER,
            dedupe_key=f"{REMINDER_TIMER}:{referral_id}:{t.key}",
            payload={
                "referral_id": str(referral_id),
                "key": t.key,
                "kind": t.kind.value,
                "at": t.at.isoformat(),
            },
            at=t.at,
        )
        for t in derived.timers
    ] + [
        outbox.Timer(
            topic=staff_alerts.TIMER,
            dedupe_key=f"{staff_alerts.TIMER}:{referral_id}:{t.key}",
            payload={"referral_id": str(referral_id), "key": t.key, "kind": t.kind},
            at=t.at,
        )
        for t in derived.alert_timers
    ]


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
            await refresh(referral, await load(referral_id), now)
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
            # A repair trusts the ledger alone, not the fold stored with the referral.
            state = fold_state(await ledger.events_of(referral_id))
            await refresh(referral, await load(referral_id), now, state=state, screen_changed=False)

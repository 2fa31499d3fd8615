"""The inbox: clinic systems' deliveries taken, stored raw and turned into claims.

A delivery is authenticated and stored raw in the inbox with an outbox message, in one
transaction, before anything is parsed; the sender gets its 2xx at once. A worker then
asks the adapter what changed (reading the CRM over its API where the webhook carries
only an id) and records each change as a clinic claim through the same door as the
panel, with an idempotency key naming the object and its state — so a redelivery, a
replay or a reconcile of the same state records nothing new, and a late delivery folds
at the time the CRM says the change happened.
"""

import asyncio
from collections import OrderedDict
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import msgspec
from msgspec import UNSET, UnsetType
from msgspec.structs import replace

from backend.domain.claims import to_event_body
from backend.domain.events import Source
from backend.integrations.adapters import ADAPTERS
from backend.integrations.base import (
    Adapter,
    Change,
    Connection,
    CrmRejected,
    CrmUnavailable,
    MalformedDelivery,
)
from backend.runtime.clock import utcnow
from backend.services import crm_money
from backend.services.claims import record_clinic_claim
from backend.services.connections import connection, retry_later, token_hash
from backend.services.errors import Conflict, NotFound, ServiceError
from backend.services.recording import Recorded, Statement, record_locked
from backend.store import integrations as store
from backend.store import outbox, referrals
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome
from backend.store.rows import (
    ChangeOutcome,
    ChangeStatus,
    DeliveryResult,
    DeliveryRow,
    DeliveryStatus,
    FinishedDelivery,
    MoneyDone,
)

INBOX = "inbox"  # the outbox topic of a stored delivery: {"delivery_id": …}
NOT_ACCEPTED = "not accepted"  # the same words for an unknown URL and a wrong secret
PRIVATE_HEADERS = {"authorization", "cookie", "proxy-authorization"}
RECONCILE_HEADER = "plantrack-reconcile-since"  # a reconcile pass's delivery: read since


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    status: int  # the HTTP status for the sender
    detail: str
    delivery_id: int | None = None
    duplicate: bool = False


class _Known(msgspec.Struct, frozen=True):
    """An integration a delivery was accepted for, with its secrets unsealed."""

    integration: store.KnownIntegration
    system: str
    secret_key: str  # the key its secrets were unsealed with (tests run several apps)
    connection: Connection


class KnownIntegrations:
    """Integrations by their token's hash, kept per process so that a delivery costs one
    statement, not two. Safe to keep because nothing is trusted from here alone: the
    delivery's write checks that the integration still has this token and version
    (store.receive_delivery), and anything this copy would refuse is decided again on a
    fresh read. Bounded: the least recently used is forgotten first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, _Known] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, secret_key: str) -> _Known | None:
        known = self._entries.get(key)
        if known is None or known.secret_key != secret_key:
            return None
        self._entries.move_to_end(key)
        return known

    def keep(self, key: str, known: _Known) -> None:
        self._entries[key] = known
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


KNOWN = KnownIntegrations(size=4096)  # one entry a connected clinic, a few kB each


async def accept(
    system: str,
    token: str,
    headers: dict[str, str],
    body: bytes,
    *,
    secret_key: str,
    now: datetime | None = None,
) -> Accepted:
    """Authenticate a delivery and store it raw for the worker. Answers the same for an
    unknown URL and a wrong secret, so neither tells which clinics exist."""
    now = now or utcnow()
    key = token_hash(token)
    headers = {k.lower(): v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS}
    text = body.decode("utf-8", errors="replace")
    known = KNOWN.get(key, secret_key)
    if known is not None and known.system == system:
        # The common case on a known integration: one statement. Anything else (a wrong
        # signature — perhaps made with a secret rotated since —, a malformed body, a
        # changed integration) goes the whole way below, as if this copy did not exist.
        adapter = ADAPTERS[system]
        if adapter.authenticate(known.connection, headers, body) and adapter.check(body) is None:
            received = await _receive(known, adapter, headers, body, text, now)
            if received is not None:
                return received
            KNOWN.forget(key)
    row = await store.by_token_hash(key)
    if row is None or row.system != system or system not in ADAPTERS:
        KNOWN.forget(key)
        return Accepted(status=403, detail=NOT_ACCEPTED)
    adapter = ADAPTERS[system]
    conn = await connection(row, secret_key)
    if not adapter.authenticate(conn, headers, body):
        async with write_transaction():
            await store.store_delivery(
                clinic_id=conn.clinic_id,
                system=system,
                headers=headers,
                body=text,
                now=now,
                delivery_key=None,
                status="rejected",
                error="authentication failed",
            )
        return Accepted(status=403, detail=NOT_ACCEPTED)
    problem = adapter.check(body)
    if problem is None:
        known = _Known(store.KnownIntegration(row.id, key, row.version), system, secret_key, conn)
        received = await _receive(known, adapter, headers, body, text, now)
        if received is None:  # changed between our read and our write: as a wrong secret
            return Accepted(status=403, detail=NOT_ACCEPTED)
        KNOWN.keep(key, known)
        return received
    async with write_transaction():
        delivery_id = await store.store_delivery(
            clinic_id=conn.clinic_id,
            system=system,
            headers=headers,
            body=text,
            now=now,
            delivery_key=adapter.delivery_key(headers, body),
            status="failed",
            error=problem,
        )
    if delivery_id is None:
        return Accepted(status=200, detail="already received", duplicate=True)
    return Accepted(status=400, detail=problem, delivery_id=delivery_id)


async def _receive(
    known: _Known, adapter: Adapter, headers: dict[str, str], body: bytes, text: str, now: datetime
) -> Accepted | None:
    """An authenticated, well-formed delivery and its job in one write; None if the
    integration is no longer the one it was authenticated against (nothing written)."""
    received = await store.receive_delivery(
        integration=known.integration,
        clinic_id=known.connection.clinic_id,
        system=known.system,
        headers=headers,
        body=text,
        now=now,
        delivery_key=adapter.delivery_key(headers, body),
        topic=INBOX,
    )
    if not received.current:
        return None
    if received.delivery_id is None:
        return Accepted(status=200, detail="already received", duplicate=True)
    return Accepted(status=202, detail="accepted", delivery_id=received.delivery_id)


GROUPS_AT_ONCE = 4  # referrals recorded side by side in a batch (each its own connection)


class _Claim(msgspec.Struct, frozen=True):
    """A change that is a plain claim about a referral it names (an MIS event): recorded
    with the batch's other claims on that referral, in one recording."""

    job: int  # the delivery's place in the batch
    slot: int  # the change's place in the delivery
    connection: Connection
    source: Source
    change: Change


async def process(
    delivery_id: int,
    http: httpx.AsyncClient,
    *,
    secret_key: str,
    last_try: bool = False,
    now: datetime | None = None,
) -> Outcome:
    """Turn one stored delivery into claims. Safe to run again: nothing twice."""
    [outcome] = await process_many([(delivery_id, last_try)], http, secret_key=secret_key, now=now)
    return outcome


async def process_many(
    jobs: list[tuple[int, bool]],
    http: httpx.AsyncClient,
    *,
    secret_key: str,
    now: datetime | None = None,
) -> list[Outcome]:
    """Turn stored deliveries (id, last try?) into claims, in delivery order: read in one
    statement, each clinic's integration once; the plain claims on one referral recorded
    in one recording (load, decide, save once for all of them), a few referrals side by
    side; the deliveries finished in one statement. Safe to run again: nothing twice
    (each claim's key is the state it names)."""
    now = now or utcnow()
    rows = await store.deliveries_by_id([delivery_id for delivery_id, _ in jobs])
    integrations: dict[UUID, Connection | None] = {}
    outcomes: list[Outcome | None] = [None] * len(jobs)
    changed: dict[int, list[ChangeOutcome | None]] = {}  # job → its changes' outcomes
    finished: list[tuple[int, str | None]] = []  # (job, failed) finished without changes
    pending: dict[UUID, list[_Claim]] = {}
    for job, (delivery_id, last_try) in enumerate(jobs):
        row = rows.get(delivery_id)
        if row is None:
            outcomes[job] = Outcome(status="failed", detail="no such delivery")
            continue
        if row.status == "rejected":
            outcomes[job] = Outcome(status="done")
            continue
        if row.clinic not in integrations:
            integration = await store.of_clinic(row.clinic)
            integrations[row.clinic] = (
                None if integration is None else await connection(integration, secret_key)
            )
        conn = integrations[row.clinic]
        if conn is None or conn.system != row.system:
            finished.append((job, "the clinic's integration has changed"))
            continue
        adapter = ADAPTERS[row.system]
        headers = row.headers or {}
        try:
            if RECONCILE_HEADER in headers:
                since = datetime.fromisoformat(headers[RECONCILE_HEADER])
                changes = await adapter.recently_changed(conn, since, http)
            else:
                changes = await adapter.changes(conn, headers, (row.body or "").encode(), http)
        except CrmUnavailable as exc:
            if last_try:
                finished.append((job, f"gave up: {exc}"))
                continue
            async with write_transaction():
                await store.note_waiting(delivery_id, f"will retry: {exc}")
            outcomes[job] = retry_later(exc)
            continue
        except (CrmRejected, MalformedDelivery) as exc:
            finished.append((job, str(exc)))
            continue
        slots: list[ChangeOutcome | None] = []
        changed[job] = slots
        for slot, change in enumerate(changes):
            if _plain_claim(change):
                assert change.referral_id is not None
                claim = _Claim(job, slot, conn, adapter.source, change)
                pending.setdefault(change.referral_id, []).append(claim)
                slots.append(None)
                continue
            # Anything else may touch a referral with claims waiting: they go first.
            await _record_claims(pending, changed, now)
            pending = {}
            slots.append(await apply_change(conn, adapter, change, now))
    await _record_claims(pending, changed, now)

    done: list[FinishedDelivery] = []
    for job, failed in finished:
        result = DeliveryResult()  # nothing read: no changes
        done.append(FinishedDelivery(id=jobs[job][0], status="failed", error=failed, result=result))
        outcomes[job] = _job_outcome(done[-1])
    for job, slots in changed.items():
        done.append(_finished(jobs[job][0], [o for o in slots if o is not None]))
        outcomes[job] = _job_outcome(done[-1])
    if done:
        async with write_transaction():
            await store.finish_deliveries(done, now=now)
    return [o if o is not None else Outcome(status="retry") for o in outcomes]


def _plain_claim(change: Change) -> bool:
    """A claim about the referral the change names itself, and nothing more."""
    return (
        change.claim is not None
        and change.referral_id is not None
        and change.external_id is None
        and change.unknown_stage is None
        and change.money is None
        and change.plan is None
        and change.cancel_item is None
    )


async def _record_claims(
    pending: dict[UUID, list[_Claim]],
    changed: dict[int, list[ChangeOutcome | None]],
    now: datetime,
) -> None:
    """Each referral's waiting claims in one recording, GROUPS_AT_ONCE referrals at a
    time; each change's outcome put in its delivery's place."""
    gate = asyncio.Semaphore(GROUPS_AT_ONCE)

    async def one(referral_id: UUID, claims: list[_Claim]) -> None:
        async with gate:
            for claim, outcome in zip(
                claims, await _record_on(referral_id, claims, now), strict=True
            ):
                changed[claim.job][claim.slot] = outcome

    await asyncio.gather(*(one(r, c) for r, c in pending.items()))


async def _record_on(referral_id: UUID, claims: list[_Claim], now: datetime) -> list[ChangeOutcome]:
    """The claims on one referral, in order, in one transaction; if the recording refuses
    one of them, each is recorded alone instead, so that only that one is refused."""
    try:
        async with write_transaction():
            referral = await referrals.lock(referral_id)
            ours = [
                i
                for i, c in enumerate(claims)
                if referral is not None and referral.clinic == c.connection.clinic_id
            ]
            recorded = []
            if referral is not None and ours:
                statements = [_statement(claims[i]) for i in ours]
                recorded = await record_locked(referral, statements, now)
    except ServiceError:
        return [await _apply_claim_alone(c, referral_id, now) for c in claims]
    made = dict(zip(ours, recorded, strict=True))
    return [
        _recorded(c.change, referral_id, made[i])
        if i in made
        else _not_at_this_clinic(c.change, referral_id)
        for i, c in enumerate(claims)
    ]


async def _apply_claim_alone(claim: _Claim, referral_id: UUID, now: datetime) -> ChangeOutcome:
    change = claim.change
    try:
        async with write_transaction():
            referral = await referrals.lock(referral_id)
            if referral is None or referral.clinic != claim.connection.clinic_id:
                return _not_at_this_clinic(change, referral_id)
            [recorded] = await record_locked(referral, [_statement(claim)], now)
    except ServiceError as exc:
        return _outcome(change, referral_id, "refused", error=exc.detail)
    return _recorded(change, referral_id, recorded)


def _outcome(
    change: Change, referral_id: UUID | None, outcome: ChangeStatus, **more: Any
) -> ChangeOutcome:
    """A change's outcome: the object and claim it named, what became of it."""
    return ChangeOutcome(
        external_id=change.external_id,
        referral_id=referral_id,
        stage=change.stage,
        claim=type(change.claim).__struct_config__.tag if change.claim else None,
        outcome=outcome,
        **more,
    )


def _not_at_this_clinic(change: Change, referral_id: UUID) -> ChangeOutcome:
    return _outcome(change, None, "refused", error=f"no referral {referral_id} at this clinic")


def _recorded(change: Change, referral_id: UUID, recorded: Recorded) -> ChangeOutcome:
    outcome = "duplicate" if recorded.duplicate else "recorded"
    return _outcome(change, referral_id, outcome, event_id=recorded.event.id)


def _statement(claim: _Claim) -> Statement:
    change = claim.change
    assert change.claim is not None
    conn = claim.connection
    return Statement(
        body=to_event_body(change.claim),
        source=claim.source,
        actor=f"{conn.system}:{change.external_id or change.key}"[:120],
        idempotency_key=change.key,
        occurred_at=change.claim.occurred_at,
    )


async def finish(delivery_id: int, now: datetime, outcomes: list[ChangeOutcome]) -> Outcome:
    """Finish a delivery made of changes already applied (a reconcile pass's)."""
    delivery = _finished(delivery_id, outcomes)
    async with write_transaction():
        await store.finish_delivery(delivery, now=now)
    return _job_outcome(delivery)


def _finished(delivery_id: int, outcomes: list[ChangeOutcome]) -> FinishedDelivery:
    status, error = summarize(outcomes)
    unknown = sorted({o.stage for o in outcomes if o.outcome == "unmapped" and o.stage is not None})
    result = DeliveryResult(changes=tuple(outcomes), unknown_stages=tuple(unknown))
    return FinishedDelivery(id=delivery_id, status=status, error=error, result=result)


def _job_outcome(delivery: FinishedDelivery) -> Outcome:
    return Outcome(
        status="failed" if delivery.status == "failed" else "done", detail=delivery.error
    )


def summarize(outcomes: list[ChangeOutcome]) -> tuple[DeliveryStatus, str | None]:
    """A delivery's status from its changes': failed > unmapped > processed > ignored."""
    refused = [o for o in outcomes if o.outcome == "refused"]
    if refused:
        what = (f"{o.external_id or o.referral_id}: {o.error}" for o in refused)
        return "failed", "; ".join(what)
    if any(o.outcome == "unmapped" for o in outcomes):
        return "unmapped", "stage not in the stage map"
    money = [o.money for o in outcomes if o.money is not UNSET]
    unmatched = [r for m in money for r in m.unmatched_done_rows or ()]
    if unmatched:
        listed = ", ".join(f"«{r}»" for r in unmatched)
        return "unmapped", f"the done rows field lists what is no product row: {listed}"
    if any(o.outcome in ("recorded", "duplicate") for o in outcomes):
        return "processed", None
    return "ignored", None


async def apply_change(
    conn: Connection, adapter: Adapter, change: Change, now: datetime
) -> ChangeOutcome:
    """Record one change as a claim, if it is about one of our referrals at this clinic."""
    referral_id, refusal = await _referral_of(conn, change, now)
    if refusal is not None:
        return _outcome(change, None, "refused", error=refusal)
    if referral_id is None:
        return _outcome(change, None, "ignored", note=change.note or "not a referral of ours")
    if change.plan is not None or change.cancel_item is not None:
        return await _apply_statement(conn, adapter, change, referral_id, now)
    money: MoneyDone | UnsetType = UNSET
    if change.money is not None:
        # Money first: a stage's claim may need the lines the rows add to the plan.
        money = await crm_money.apply_money(
            clinic_id=conn.clinic_id,
            system=conn.system,
            config=conn.config,
            source=adapter.source,
            external_id=change.external_id or str(referral_id),
            stage=change.stage,
            money=change.money,
            referral_id=referral_id,
            now=now,
        )
    return _with_money(await _apply_claim(conn, adapter, change, referral_id, now), money)


def _with_money(stage: ChangeOutcome, money: MoneyDone | UnsetType) -> ChangeOutcome:
    """The change's outcome: its stage's, unless its money was refused (the delivery
    fails, visibly) or recorded something the stage did not."""
    if money is UNSET:
        return stage
    outcome = replace(stage, money=money)
    if money.status == "refused":
        errors = "; ".join(money.errors or ())
        previous = f"{stage.error}; " if stage.error else ""
        return replace(outcome, outcome="refused", error=previous + errors)
    if money.status == "recorded" and stage.outcome in ("ignored", "duplicate"):
        return replace(outcome, outcome="recorded")
    return outcome


async def _apply_claim(
    conn: Connection, adapter: Adapter, change: Change, referral_id: UUID, now: datetime
) -> ChangeOutcome:
    if change.unknown_stage is not None:
        return _outcome(change, referral_id, "unmapped")
    if change.claim is None:
        return _outcome(change, referral_id, "ignored", note=change.note)
    try:
        recorded = await record_clinic_claim(
            referral_id,
            change.claim,
            source=adapter.source,
            actor=f"{conn.system}:{change.external_id or change.key}"[:120],
            idempotency_key=change.key,
            now=now,
        )
    except ServiceError as exc:
        return _outcome(change, referral_id, "refused", error=exc.detail)
    return _recorded(change, referral_id, recorded)


async def _apply_statement(
    conn: Connection, adapter: Adapter, change: Change, referral_id: UUID, now: datetime
) -> ChangeOutcome:
    """A plan version or a cancelled procedure an MIS states outright."""
    assert change.key is not None
    actor = f"{conn.system}:{change.key.split(':', 1)[-1]}"[:120]
    try:
        if change.plan is not None:
            version, new = await crm_money.apply_plan(
                referral_id,
                change.plan,
                source=adapter.source,
                actor=actor,
                key=change.key,
                occurred_at=change.at,
                now=now,
            )
            outcome = "recorded" if new else "duplicate"
            return _outcome(change, referral_id, outcome, plan_version=version)
        assert change.cancel_item is not None
        made = await crm_money.cancel_item(
            referral_id,
            change.cancel_item,
            reason=change.note or "отменено в МИС / cancelled in the MIS",
            source=adapter.source,
            actor=actor,
            key=change.key,
            occurred_at=change.at,
            now=now,
        )
    except ServiceError as exc:
        return _outcome(change, referral_id, "refused", error=exc.detail)
    return _outcome(change, referral_id, "recorded", corrections=tuple(made))


async def _referral_of(
    conn: Connection, change: Change, now: datetime
) -> tuple[UUID | None, str | None]:
    """(our referral the change is about, or why it cannot be): by the link made when we
    pushed it, or by the id it names — which must be a referral sent to this clinic
    (another clinic's referral is answered as missing, as everywhere)."""
    if change.external_id is not None:
        linked = await store.linked_referral(conn.clinic_id, conn.system, change.external_id)
        if linked is not None:
            return linked, None
    if change.referral_id is None:
        return None, None
    referral = await referrals.get(change.referral_id)
    if referral is None or referral.clinic != conn.clinic_id:
        return None, f"no referral {change.referral_id} at this clinic"
    if change.external_id is not None:
        async with write_transaction():
            await store.link(
                clinic_id=conn.clinic_id,
                system=conn.system,
                external_id=change.external_id,
                referral_id=referral.id,
                now=now,
            )
    return referral.id, None


async def replay(delivery_id: int, *, now: datetime | None = None) -> DeliveryRow:
    """Process a stored delivery again (after a stage map was fixed, say). Claims it
    already made are not made again."""
    now = now or utcnow()
    async with write_transaction():
        row = await store.delivery(delivery_id)
        if row is None:
            raise NotFound("no such delivery")
        if row.status == "rejected":
            raise Conflict("this delivery failed authentication; it is kept, never processed")
        await store.requeue(delivery_id)
        await outbox.enqueue(
            topic=INBOX,
            payload={"delivery_id": delivery_id},
            now=now,
            dedupe_key=f"inbox:{delivery_id}:replay:{now.isoformat()}",
        )
    row = await store.delivery(delivery_id)
    assert row is not None
    return row

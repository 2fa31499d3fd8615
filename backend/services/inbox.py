"""The inbox: clinic systems' deliveries taken, stored raw and turned into claims.

A delivery is authenticated and stored raw in the inbox with an outbox message, in one
transaction, before anything is parsed; the sender gets its 2xx at once. A worker then
asks the adapter what changed (reading the CRM over its API where the webhook carries
only an id) and records each change as a clinic claim through the same door as the
panel, with an idempotency key naming the object and its state — so a redelivery, a
replay or a reconcile of the same state records nothing new, and a late delivery folds
at the time the CRM says the change happened.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import msgspec

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
from backend.store import integrations as store
from backend.store import outbox, referrals
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome
from backend.store.rows import DeliveryRow

INBOX = "inbox"  # the outbox topic of a stored delivery: {"delivery_id": …}
NOT_ACCEPTED = "not accepted"  # the same words for an unknown URL and a wrong secret
PRIVATE_HEADERS = {"authorization", "cookie", "proxy-authorization"}
RECONCILE_HEADER = "plantrack-reconcile-since"  # a reconcile pass's delivery: read since


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    status: int  # the HTTP status for the sender
    detail: str
    delivery_id: int | None = None
    duplicate: bool = False


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
    row = await store.by_token_hash(token_hash(token))
    if row is None or row.system != system or system not in ADAPTERS:
        return Accepted(status=403, detail=NOT_ACCEPTED)
    adapter = ADAPTERS[system]
    conn = await connection(row, secret_key)
    headers = {k.lower(): v for k, v in headers.items() if k.lower() not in PRIVATE_HEADERS}
    text = body.decode("utf-8", errors="replace")
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
    key = adapter.delivery_key(headers, body)
    if problem is None:  # the common case: the delivery and its job, in one write
        delivery_id = await store.receive_delivery(
            clinic_id=conn.clinic_id,
            system=system,
            headers=headers,
            body=text,
            now=now,
            delivery_key=key,
            topic=INBOX,
        )
        if delivery_id is None:
            return Accepted(status=200, detail="already received", duplicate=True)
        return Accepted(status=202, detail="accepted", delivery_id=delivery_id)
    async with write_transaction():
        delivery_id = await store.store_delivery(
            clinic_id=conn.clinic_id,
            system=system,
            headers=headers,
            body=text,
            now=now,
            delivery_key=key,
            status="failed",
            error=problem,
        )
    if delivery_id is None:
        return Accepted(status=200, detail="already received", duplicate=True)
    return Accepted(status=400, detail=problem, delivery_id=delivery_id)


async def process(
    delivery_id: int,
    http: httpx.AsyncClient,
    *,
    secret_key: str,
    last_try: bool = False,
    now: datetime | None = None,
) -> Outcome:
    """Turn one stored delivery into claims. Safe to run again: nothing twice."""
    now = now or utcnow()
    row = await store.delivery(delivery_id)
    if row is None:
        return Outcome(status="failed", detail="no such delivery")
    if row.status == "rejected":
        return Outcome(status="done")
    integration = await store.of_clinic(row.clinic)
    if integration is None or integration.system != row.system:
        return await finish(delivery_id, now, failed="the clinic's integration has changed")
    adapter = ADAPTERS[row.system]
    conn = await connection(integration, secret_key)
    headers = row.headers
    headers = msgspec.json.decode(headers) if isinstance(headers, str) else headers
    try:
        if RECONCILE_HEADER in headers:
            since = datetime.fromisoformat(headers[RECONCILE_HEADER])
            changes = await adapter.recently_changed(conn, since, http)
        else:
            changes = await adapter.changes(conn, headers, row.body.encode(), http)
    except CrmUnavailable as exc:
        if last_try:
            return await finish(delivery_id, now, failed=f"gave up: {exc}")
        async with write_transaction():
            await store.note_waiting(delivery_id, f"will retry: {exc}")
        return retry_later(exc)
    except (CrmRejected, MalformedDelivery) as exc:
        return await finish(delivery_id, now, failed=str(exc))
    outcomes = [await apply_change(conn, adapter, change, now) for change in changes]
    return await finish(delivery_id, now, outcomes=outcomes)


async def finish(
    delivery_id: int,
    now: datetime,
    *,
    failed: str | None = None,
    outcomes: list[dict[str, Any]] | None = None,
) -> Outcome:
    status, error = ("failed", failed) if failed else summarize(outcomes or [])
    unknown = sorted({o["stage"] for o in outcomes or [] if o["outcome"] == "unmapped"})
    result = {"changes": outcomes or [], "unknown_stages": unknown}
    async with write_transaction():
        await store.finish_delivery(delivery_id, status=status, now=now, error=error, result=result)
    return Outcome(status="failed" if status == "failed" else "done", detail=error)


def summarize(outcomes: list[dict[str, Any]]) -> tuple[str, str | None]:
    """A delivery's status from its changes': failed > unmapped > processed > ignored."""
    refused = [o for o in outcomes if o["outcome"] == "refused"]
    if refused:
        what = (f"{o['external_id'] or o['referral_id']}: {o['error']}" for o in refused)
        return "failed", "; ".join(what)
    if any(o["outcome"] == "unmapped" for o in outcomes):
        return "unmapped", "stage not in the stage map"
    unmatched = [r for o in outcomes for r in (o.get("money") or {}).get("unmatched_done_rows", [])]
    if unmatched:
        listed = ", ".join(f"«{r}»" for r in unmatched)
        return "unmapped", f"the done rows field lists what is no product row: {listed}"
    if any(o["outcome"] in ("recorded", "duplicate") for o in outcomes):
        return "processed", None
    return "ignored", None


async def apply_change(
    conn: Connection, adapter: Adapter, change: Change, now: datetime
) -> dict[str, Any]:
    """Record one change as a claim, if it is about one of our referrals at this clinic."""
    outcome: dict[str, Any] = {
        "external_id": change.external_id,
        "referral_id": None,
        "stage": change.stage,
        "claim": type(change.claim).__struct_config__.tag if change.claim else None,
    }
    referral_id, refusal = await _referral_of(conn, change, now)
    if refusal is not None:
        return {**outcome, "outcome": "refused", "error": refusal}
    if referral_id is None:
        return {**outcome, "outcome": "ignored", "note": change.note or "not a referral of ours"}
    outcome["referral_id"] = str(referral_id)
    if change.plan is not None or change.cancel_item is not None:
        return {**outcome, **await _apply_statement(conn, adapter, change, referral_id, now)}
    if change.money is not None:
        # Money first: a stage's claim may need the lines the rows add to the plan.
        outcome["money"] = await crm_money.apply_money(
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
    return _with_money(outcome, await _apply_claim(conn, adapter, change, referral_id, now))


def _with_money(outcome: dict[str, Any], stage: dict[str, Any]) -> dict[str, Any]:
    """The change's outcome: its stage's, unless its money was refused (the delivery
    fails, visibly) or recorded something the stage did not."""
    merged = {**outcome, **stage}
    money = outcome.get("money")
    if money is None:
        return merged
    if money["status"] == "refused":
        errors = "; ".join(money.get("errors", []))
        previous = f"{stage['error']}; " if stage.get("error") else ""
        return {**merged, "outcome": "refused", "error": previous + errors}
    if money["status"] == "recorded" and merged["outcome"] in ("ignored", "duplicate"):
        return {**merged, "outcome": "recorded"}
    return merged


async def _apply_claim(
    conn: Connection, adapter: Adapter, change: Change, referral_id: UUID, now: datetime
) -> dict[str, Any]:
    if change.unknown_stage is not None:
        return {"outcome": "unmapped"}
    if change.claim is None:
        return {"outcome": "ignored", "note": change.note}
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
        return {"outcome": "refused", "error": exc.detail}
    return {
        "outcome": "duplicate" if recorded.duplicate else "recorded",
        "event_id": recorded.event.id,
    }


async def _apply_statement(
    conn: Connection, adapter: Adapter, change: Change, referral_id: UUID, now: datetime
) -> dict[str, Any]:
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
            return {"outcome": "recorded" if new else "duplicate", "plan_version": version}
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
        return {"outcome": "refused", "error": exc.detail}
    return {"outcome": "recorded", "corrections": made}


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

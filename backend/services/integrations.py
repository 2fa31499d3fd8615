"""Clinic systems: configuring them, taking their deliveries, turning those into claims,
and pushing new referrals into their CRMs.

A delivery is authenticated and stored raw in the inbox with an outbox message, in one
transaction, before anything is parsed; the sender gets its 2xx at once. A worker then
asks the adapter what changed (reading the CRM over its API where the webhook carries
only an id) and records each change as a clinic claim through the same door as the
panel, with an idempotency key naming the object and its state — so a redelivery, a
replay or a reconcile of the same state records nothing new, and a late delivery folds
at the time the CRM says the change happened.
"""

import hashlib
import secrets
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import msgspec

from backend.domain.events import Source
from backend.integrations.amocrm import AmoCrm
from backend.integrations.base import (
    Adapter,
    Change,
    Connection,
    CrmRejected,
    CrmUnavailable,
    MalformedDelivery,
    OutboundReferral,
)
from backend.integrations.bitrix24 import Bitrix24
from backend.integrations.config import IntegrationIn, split
from backend.integrations.ident import BadQuery, key_matches, new_key, parse_query, ticket
from backend.integrations.mis_webhooks import MisWebhooks, new_secret
from backend.runtime.clock import utcnow
from backend.runtime.secrets_box import seal, unseal
from backend.services import crm_money
from backend.services.claims import ReceivedIn, record_clinic_claim
from backend.services.errors import (
    Conflict,
    NotFound,
    ServiceError,
    Unavailable,
    UpstreamRefused,
)
from backend.store import integrations as store
from backend.store import outbox, parties, prices, referrals
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome
from backend.store.rows import ReferralRow

ADAPTERS: dict[str, Any] = {"bitrix24": Bitrix24(), "amocrm": AmoCrm(), "webhook": MisWebhooks()}
CRMS = ("bitrix24", "amocrm")
INBOX = "inbox"
OUTBOUND = "crm.outbound"
RECONCILE = "crm.reconcile"
RECONCILE_EVERY = timedelta(minutes=10)
RECONCILE_OVERLAP = timedelta(minutes=5)  # clocks and slow commits on the portal's side
NOT_ACCEPTED = "not accepted"  # the same words for an unknown URL and a wrong secret
PRIVATE_HEADERS = {"authorization", "cookie", "proxy-authorization"}
# Secrets we make for a system (and show once), by the name the answer shows them under.
GENERATED = {"webhook": {"signing_secret": new_secret}, "ident": {"integration_key": new_key}}
PATHS = {"bitrix24": "bitrix24", "amocrm": "amocrm", "webhook": "webhooks", "ident": "ident"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IntegrationView(msgspec.Struct, frozen=True, kw_only=True):
    system: str
    inbound_url: str | None  # None for readers who may not see credentials
    settings: dict[str, Any]  # everything but the secrets
    unknown_stages: list[str]  # stages deliveries named that the map does not know
    failed_deliveries: int
    last_sync_at: datetime | None
    updated_at: datetime


class Configured(msgspec.Struct, frozen=True, kw_only=True):
    integration: IntegrationView
    # Shown once, when made: the MIS's signing secret, IDENT's integration key.
    signing_secret: str | None = None
    integration_key: str | None = None


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    status: int  # the HTTP status for the sender
    detail: str
    delivery_id: int | None = None
    duplicate: bool = False


# --- configuration ----------------------------------------------------------------------


async def configure(
    clinic_id: UUID,
    data: IntegrationIn,
    *,
    secret_key: str,
    public_url: str,
    rotate: bool = False,
    now: datetime | None = None,
) -> Configured:
    """Connect (or reconnect) a clinic's system. Its inbound URL and generated secrets
    stay as they were unless `rotate`; a changed stage map applies to what comes next
    (replay a delivery to apply it to the past)."""
    now = now or utcnow()
    system, settings, given = split(data)
    shown: dict[str, str] = {}
    async with write_transaction():
        clinic = await parties.clinic(clinic_id)
        if clinic is None or clinic["archived_at"] is not None:
            raise NotFound("no such clinic")
        existing = await store.of_clinic(clinic_id)
        old = unseal(secret_key, existing["secrets"]) if existing and not rotate else {}
        same_system = existing is not None and existing["system"] == system
        values = {**given, "inbound_token": old.get("inbound_token") or secrets.token_urlsafe(32)}
        for name, make in GENERATED.get(system, {}).items():
            if same_system and old.get(name):
                values[name] = old[name]
            else:
                values[name] = shown[name] = make()
        integration_id = await store.upsert(
            clinic_id=clinic_id,
            system=system,
            token_hash=token_hash(values["inbound_token"]),
            config=settings,
            secrets=seal(secret_key, values),
            now=now,
        )
        await parties.set_delivery_channel(clinic_id, system)
        if system in CRMS:
            await schedule_reconcile(integration_id, now, first=True)
    view = await describe(clinic_id, secret_key=secret_key, public_url=public_url)
    assert view is not None
    return Configured(integration=view, **shown)


async def describe(
    clinic_id: UUID, *, secret_key: str, public_url: str | None
) -> IntegrationView | None:
    """The clinic's integration; with `public_url` None the inbound URL (a credential)
    is left out."""
    row = await store.of_clinic(clinic_id)
    if row is None:
        return None
    url = None
    if public_url is not None:
        token = unseal(secret_key, row["secrets"]).get("inbound_token", "")
        url = f"{public_url.rstrip('/')}/integrations/{PATHS[row['system']]}/{token}"
    stage_map = row["config"].get("stage_map", {})
    unknown = [s for s in await store.unknown_stages(clinic_id) if s not in stage_map]
    return IntegrationView(
        system=row["system"],
        inbound_url=url,
        settings=row["config"],
        unknown_stages=unknown,
        failed_deliveries=await store.failed_count(clinic_id),
        last_sync_at=row["last_sync_at"],
        updated_at=row["updated_at"],
    )


async def connection(row: dict[str, Any], secret_key: str) -> Connection:
    integration_id = row["id"]

    async def save_secrets(values: dict[str, Any]) -> None:
        async with write_transaction():
            await store.save_secrets(integration_id, seal(secret_key, values), utcnow())

    return Connection(
        integration_id=integration_id,
        clinic_id=row["clinic"],
        system=row["system"],
        config={**row["config"], "timezone": row["clinic_timezone"]},
        secrets=unseal(secret_key, row["secrets"]),
        save_secrets=save_secrets,
    )


class StageRow(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # as the stage map names it
    name: str
    semantics: str  # process | success | failure, as the CRM classifies it
    maps_to: str | None  # the claim the map makes of it; None: unmapped


class FieldRow(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # as the settings name it (UF_CRM_…, or the amoCRM field id)
    name: str
    type: str  # the CRM's own type
    code: str | None  # amoCRM's field code
    used_as: str | None  # the setting that names it (fields.paid_amount, …); None: unused


class CatalogRow(msgspec.Struct, frozen=True, kw_only=True):
    ref: str
    name: str
    code: str  # what rows match plan lines by; "" — they match by name and tooth
    price: int | None  # minor units
    currency: str | None
    in_price_list: bool  # a new line from it takes the price list's specialization


class CrmStages(msgspec.Struct, frozen=True, kw_only=True):
    system: str
    stages: list[StageRow]
    map_keys_not_in_crm: list[str]  # a typo, or a stage deleted in the CRM
    fields: list[FieldRow] = []  # the deal's or lead's fields, as the CRM lists them
    settings_fields_not_in_crm: list[str] = []  # fields the settings name that it lacks
    catalog: list[CatalogRow] = []  # the first products of the CRM's catalogue


async def crm_stages(clinic_id: UUID, *, secret_key: str) -> CrmStages:
    """The clinic's pipeline stages read from its CRM, beside what the map makes of each:
    what the exchange needs to write or check a stage map."""
    row = await store.of_clinic(clinic_id)
    if row is None:
        raise NotFound("this clinic has no integration")
    adapter = ADAPTERS.get(row["system"])
    if adapter is None or not hasattr(adapter, "stages"):
        raise Conflict(f"{row['system']} has no pipeline stages")
    conn = await connection(row, secret_key)
    try:
        async with httpx.AsyncClient(timeout=15, follow_redirects=False) as http:
            stages = await adapter.stages(conn, http)
            fields = await adapter.fields(conn, http)
            catalog = await adapter.catalog(conn, http)
    except CrmUnavailable as exc:
        raise Unavailable(f"the CRM did not answer: {exc}") from exc
    except CrmRejected as exc:
        raise UpstreamRefused(f"the CRM refused: {exc}") from exc
    stage_map: dict[str, Any] = conn.config.get("stage_map", {})

    def claim_name(body: dict[str, Any] | None) -> str | None:
        if body is None:
            return None
        return "/".join(str(body[k]) for k in ("kind", "outcome", "items") if body.get(k))

    settings = {name: f"fields.{name}" for name in ("appointment_at", "paid_amount", "done_rows")}
    named = {v: settings[k] for k, v in (conn.config.get("fields") or {}).items() if v}
    field_rows = [
        FieldRow(
            key=f.key,
            name=f.name,
            type=f.type,
            code=f.code,
            used_as=named.get(f.key) or (named.get(f.code) if f.code else None),
        )
        for f in fields
    ]
    known = {f.key for f in fields} | {f.code for f in fields if f.code}
    price_list = await prices.effective(clinic_id)
    return CrmStages(
        system=row["system"],
        stages=[
            StageRow(
                key=st.key,
                name=st.name,
                semantics=st.semantics,
                maps_to=claim_name(stage_map.get(st.key)),
            )
            for st in stages
        ],
        map_keys_not_in_crm=sorted(set(stage_map) - {st.key for st in stages}),
        fields=field_rows,
        settings_fields_not_in_crm=sorted(f"{named[k]}: {k}" for k in named if k not in known),
        catalog=[
            CatalogRow(
                ref=p.ref,
                name=p.name,
                code=p.code,
                price=p.price,
                currency=p.currency,
                in_price_list=bool(p.code) and p.code in price_list,
            )
            for p in catalog
        ],
    )


# --- taking deliveries ------------------------------------------------------------------


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
    if row is None or row["system"] != system or system not in ADAPTERS:
        return Accepted(status=403, detail=NOT_ACCEPTED)
    adapter: Adapter = ADAPTERS[system]
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
    check = getattr(adapter, "check", None)
    problem = check(body) if check is not None else None
    async with write_transaction():
        delivery_id = await store.store_delivery(
            clinic_id=conn.clinic_id,
            system=system,
            headers=headers,
            body=text,
            now=now,
            delivery_key=adapter.delivery_key(headers, body),
            status="failed" if problem else "received",
            error=problem,
        )
        if delivery_id is None:
            return Accepted(status=200, detail="already received", duplicate=True)
        if problem is None:
            await outbox.enqueue(
                topic=INBOX,
                payload={"delivery_id": delivery_id},
                now=now,
                dedupe_key=f"inbox:{delivery_id}",
            )
    if problem is not None:
        return Accepted(status=400, detail=problem, delivery_id=delivery_id)
    return Accepted(status=202, detail="accepted", delivery_id=delivery_id)


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
    if row["status"] == "rejected":
        return Outcome(status="done")
    integration = await store.of_clinic(row["clinic"])
    if integration is None or integration["system"] != row["system"]:
        return await _finish(delivery_id, now, failed="the clinic's integration has changed")
    adapter = ADAPTERS[row["system"]]
    conn = await connection(integration, secret_key)
    headers = row["headers"]
    headers = msgspec.json.decode(headers) if isinstance(headers, str) else headers
    try:
        if "plantrack-reconcile-since" in headers:
            since = datetime.fromisoformat(headers["plantrack-reconcile-since"])
            changes = await adapter.recently_changed(conn, since, http)
        else:
            changes = await adapter.changes(conn, headers, row["body"].encode(), http)
    except CrmUnavailable as exc:
        if last_try:
            return await _finish(delivery_id, now, failed=f"gave up: {exc}")
        async with write_transaction():
            await store.note_waiting(delivery_id, f"will retry: {exc}")
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        return Outcome(status="retry", detail=str(exc), retry_after=wait)
    except (CrmRejected, MalformedDelivery) as exc:
        return await _finish(delivery_id, now, failed=str(exc))
    outcomes = [await apply_change(conn, adapter, change, now) for change in changes]
    return await _finish(delivery_id, now, outcomes=outcomes)


async def _finish(
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


async def replay(delivery_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Process a stored delivery again (after a stage map was fixed, say). Claims it
    already made are not made again."""
    now = now or utcnow()
    async with write_transaction():
        row = await store.delivery(delivery_id)
        if row is None:
            raise NotFound("no such delivery")
        if row["status"] == "rejected":
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


# --- outbound: new referrals into the clinic's CRM ---------------------------------------


async def announce_referral(referral_id: UUID, clinic_id: UUID, now: datetime) -> None:
    """In the sender's transaction: a referral to a CRM clinic goes out by the outbox."""
    row = await store.of_clinic(clinic_id)
    if row is None or row["system"] not in CRMS:
        return
    await outbox.enqueue(
        topic=OUTBOUND,
        payload={"referral_id": str(referral_id)},
        now=now,
        dedupe_key=f"crm.outbound:{referral_id}",
        referral_id=referral_id,
    )


async def push_referral(
    referral_id: UUID,
    http: httpx.AsyncClient,
    *,
    secret_key: str,
    last_try: bool = False,
    now: datetime | None = None,
) -> Outcome:
    now = now or utcnow()
    referral = await referrals.get(referral_id)
    if referral is None:
        return Outcome(status="failed", detail="no such referral")
    row = await store.of_clinic(referral.clinic)
    if row is None or row["system"] not in CRMS:
        return Outcome(status="done", detail="the clinic has no CRM now")
    if await store.external_id_of(referral_id, row["system"]) is not None:
        return Outcome(status="done")
    conn = await connection(row, secret_key)
    try:
        external_id = await ADAPTERS[row["system"]].push_referral(
            conn, await _outbound(referral), http
        )
    except CrmUnavailable as exc:
        if last_try:
            return Outcome(status="failed", detail=str(exc))
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        return Outcome(status="retry", detail=str(exc), retry_after=wait)
    except CrmRejected as exc:
        return Outcome(status="failed", detail=str(exc))
    async with write_transaction():
        await store.link(
            clinic_id=conn.clinic_id,
            system=conn.system,
            external_id=external_id,
            referral_id=referral_id,
            now=now,
        )
    return Outcome(status="done")


async def _outbound(referral: ReferralRow) -> OutboundReferral:
    patient = await parties.patient(referral.patient)
    assert patient is not None
    titles = (await store.estimate_titles([referral.id])).get(referral.id, [])
    return OutboundReferral(
        referral_id=referral.id,
        invite_code=referral.invite_code,
        patient_name=patient["name"],
        patient_phone=patient["phone"],
        estimated_amount=referral.estimated_amount,
        currency=referral.currency,
        summary="; ".join(titles),
    )


# --- reconcile: a lost webhook is not lost (Bitrix24 never re-sends one; amoCRM may drop) --


async def schedule_reconcile(integration_id: UUID, now: datetime, *, first: bool = False) -> None:
    at = now if first else now + RECONCILE_EVERY
    slot = int(at.timestamp() // RECONCILE_EVERY.total_seconds())
    await outbox.enqueue(
        topic=RECONCILE,
        payload={"integration_id": str(integration_id)},
        now=now,
        available_at=at,
        dedupe_key=f"crm.reconcile:{integration_id}:{slot}",
    )


async def reconcile(
    integration_id: UUID,
    http: httpx.AsyncClient,
    *,
    secret_key: str,
    last_try: bool = False,
    now: datetime | None = None,
) -> Outcome:
    """Read our deals (leads) modified since the last sync and record what they say. The
    sync time moves only after a whole pass was read and recorded: a vendor outage in the
    middle retries the pass, from the same time. A run that recorded or failed anything
    leaves a delivery in the inbox (replayable); a quiet run leaves only last_sync_at."""
    now = now or utcnow()
    row = await store.integration(integration_id)
    if row is None or row["archived_at"] is not None or row["system"] not in CRMS:
        return Outcome(status="done")  # the chain ends with the integration
    system = row["system"]
    adapter = ADAPTERS[system]
    conn = await connection(row, secret_key)
    since = (row["last_sync_at"] or row["created_at"]) - RECONCILE_OVERLAP
    try:
        changes = await adapter.recently_changed(conn, since, http)
    except CrmUnavailable as exc:
        if last_try:  # the pass gives up, the chain does not: the next one reads from `since`
            async with write_transaction():
                await schedule_reconcile(integration_id, now)
            return Outcome(status="failed", detail=f"gave up: {exc}")
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        return Outcome(status="retry", detail=str(exc), retry_after=wait)
    except CrmRejected as exc:
        async with write_transaction():
            await schedule_reconcile(integration_id, now)
        return Outcome(status="failed", detail=str(exc))
    outcomes = [await apply_change(conn, adapter, change, now) for change in changes]
    async with write_transaction():
        if any(o["outcome"] not in ("duplicate", "ignored") for o in outcomes):
            delivery_id = await store.store_delivery(
                clinic_id=conn.clinic_id,
                system=system,
                headers={"plantrack-reconcile-since": since.isoformat()},
                body="",
                now=now,
                delivery_key=f"reconcile:{now.isoformat()}",
            )
        else:
            delivery_id = None
        await store.mark_synced(integration_id, now)
        await schedule_reconcile(integration_id, now)
    if delivery_id is not None:
        await _finish(delivery_id, now, outcomes=outcomes)
    return Outcome(status="done")


# --- IDENT pulls tickets -----------------------------------------------------------------


class IdentAnswer(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    text: str = ""  # plain text for IDENT's exchange log, on errors
    tickets: list[dict[str, Any]] | None = None


async def _ident(token: str, key: str | None, secret_key: str) -> Connection | None:
    row = await store.by_token_hash(token_hash(token))
    if row is None or row["system"] != "ident":
        return None
    conn = await connection(row, secret_key)
    return conn if key_matches(key, conn.secrets.get("integration_key", "")) else None


async def ident_tickets(
    token: str,
    key: str | None,
    params: dict[str, str],
    *,
    secret_key: str,
    now: datetime | None = None,
) -> IdentAnswer:
    """The clinic's referrals sent in IDENT's window, as tickets. IDENT having them means
    the clinic's system received them: that is recorded as IDENT's `received` claim."""
    now = now or utcnow()
    conn = await _ident(token, key, secret_key)
    if conn is None:
        return IdentAnswer(status=401, text="Неверный ключ интеграции (IDENT-Integration-Key)")
    try:
        start, end, limit, offset = parse_query(params)
    except BadQuery as exc:
        return IdentAnswer(status=400, text=str(exc))
    rows = await store.ticket_rows(conn.clinic_id, start, end, limit, offset)
    titles = await store.estimate_titles([r["id"] for r in rows])
    tz = conn.config["timezone"]
    tickets = [ticket(r, "; ".join(titles.get(r["id"], [])), tz) for r in rows]
    for r in rows:
        if r["step"] == "sent":
            # A referral that moved on meanwhile needs no receipt.
            with suppress(ServiceError):
                await record_clinic_claim(
                    r["id"],
                    ReceivedIn(occurred_at=now),
                    source=Source.ident,
                    actor="ident",
                    idempotency_key=f"{conn.clinic_id}:ticket:{r['id']}",
                    now=now,
                )
    async with write_transaction():
        await store.mark_synced(conn.integration_id, now)
    return IdentAnswer(status=200, tickets=tickets)


async def ident_timetable(
    token: str, key: str | None, *, secret_key: str, now: datetime | None = None
) -> IdentAnswer:
    """IDENT posts its timetable: the doctors' free intervals, which it sends to booking
    aggregators. It names no patient and no referral, so nothing of it is kept; what it
    does tell is that the clinic's IDENT is exchanging with us (last_sync_at). IDENT's
    documented HTTP exchange offers nothing more — no visits, plans or payments
    (docs/crm-money.md)."""
    conn = await _ident(token, key, secret_key)
    if conn is None:
        return IdentAnswer(status=401, text="Неверный ключ интеграции (IDENT-Integration-Key)")
    async with write_transaction():
        await store.mark_synced(conn.integration_id, now or utcnow())
    return IdentAnswer(status=200)

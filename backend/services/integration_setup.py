"""Connecting a clinic's system: its settings checked and stored with its secrets sealed,
what it looks like to the exchange, and its CRM's stages, fields and catalogue read
live beside what the settings make of them."""

import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import msgspec

from backend.domain.integration_settings import BadSettings, IntegrationIn, split
from backend.integrations.adapters import ADAPTERS, CRMS
from backend.integrations.base import CrmRejected, CrmUnavailable, NotOffered
from backend.runtime.clock import utcnow
from backend.runtime.secrets_box import seal, unseal
from backend.services.connections import connection, token_hash
from backend.services.crm_reconcile import schedule_reconcile
from backend.services.errors import Conflict, Invalid, NotFound, Unavailable, UpstreamRefused
from backend.store import integrations as store
from backend.store import parties, prices
from backend.store.engine import write_transaction


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
    try:
        system, settings, given = split(data)
    except BadSettings as exc:
        raise Invalid(str(exc)) from exc
    shown: dict[str, str] = {}
    async with write_transaction():
        clinic = await parties.clinic(clinic_id)
        if clinic is None or clinic.archived_at is not None:
            raise NotFound("no such clinic")
        existing = await store.of_clinic(clinic_id)
        old = unseal(secret_key, existing.secrets) if existing and not rotate else {}
        same_system = existing is not None and existing.system == system
        values = {**given, "inbound_token": old.get("inbound_token") or secrets.token_urlsafe(32)}
        for name, make in ADAPTERS[system].generated.items():
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
        token = unseal(secret_key, row.secrets).get("inbound_token", "")
        path = ADAPTERS[row.system].path
        url = f"{public_url.rstrip('/')}/integrations/{path}/{token}"
    stage_map = row.config.get("stage_map", {})
    unknown = [s for s in await store.unknown_stages(clinic_id) if s not in stage_map]
    return IntegrationView(
        system=row.system,
        inbound_url=url,
        settings=row.config,
        unknown_stages=unknown,
        failed_deliveries=await store.failed_count(clinic_id),
        last_sync_at=row.last_sync_at,
        updated_at=row.updated_at,
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
    # How many products the catalogue holds (None: the CRM does not say), and whether
    # `catalog` lists fewer: nothing unmapped is dropped without saying so.
    catalog_total: int | None = None
    catalog_truncated: bool = False


async def crm_stages(clinic_id: UUID, *, secret_key: str) -> CrmStages:
    """The clinic's pipeline stages read from its CRM, beside what the map makes of each:
    what the exchange needs to write or check a stage map."""
    row = await store.of_clinic(clinic_id)
    if row is None:
        raise NotFound("this clinic has no integration")
    adapter = ADAPTERS[row.system]
    conn = await connection(row, secret_key)
    try:
        async with httpx.AsyncClient(timeout=15, follow_redirects=False) as http:
            stages = await adapter.stages(conn, http)
            fields = await adapter.fields(conn, http)
            catalog = await adapter.catalog(conn, http)
    except NotOffered as exc:
        raise Conflict(str(exc)) from exc
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
        system=row.system,
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
            for p in catalog.products
        ],
        catalog_total=catalog.total,
        catalog_truncated=catalog.truncated,
    )

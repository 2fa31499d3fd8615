"""What the exchange's desk pages do to a clinic's integration beyond the API's PUT: the
stage map and field map changed without typing the CRM's keys again (the stored keys
are kept), through the same validation as a full PUT."""

from typing import Any
from uuid import UUID

import msgspec

from backend.domain.integration_settings import IntegrationIn
from backend.integrations.adapters import CRMS
from backend.runtime.secrets_box import unseal
from backend.services import integration_setup
from backend.services.errors import Conflict, Invalid, NotFound
from backend.store import integrations as store
from backend.store.rows import DeliveryRow


async def update_maps(
    clinic_id: UUID,
    *,
    stage_map: dict[str, Any],
    fields: dict[str, Any],
    secret_key: str,
    public_url: str,
) -> integration_setup.Configured:
    row = await store.of_clinic(clinic_id)
    if row is None:
        raise NotFound("this clinic has no integration")
    if row.system not in CRMS:  # a stage map is a CRM's
        raise Conflict(f"{row.system} has no stage map")
    kept = unseal(secret_key, row.secrets)
    kept.pop("inbound_token", None)
    body = {
        **row.config,
        **kept,
        "system": row.system,
        "stage_map": stage_map,
        "fields": fields,
    }
    return await connect(clinic_id, body, secret_key=secret_key, public_url=public_url)


async def connect(
    clinic_id: UUID, body: dict[str, Any], *, secret_key: str, public_url: str
) -> integration_setup.Configured:
    """A whole integration from the desk's form, as PUT …/integration takes it."""
    try:
        data = msgspec.convert(body, IntegrationIn)
    except msgspec.ValidationError as exc:
        raise Invalid(str(exc)) from exc
    return await integration_setup.configure(
        clinic_id, data, secret_key=secret_key, public_url=public_url
    )


async def deliveries(
    *, clinic_id: UUID | None, status: str | None, limit: int, before_id: int | None = None
) -> list[DeliveryRow]:
    """The inbox, newest first: what clinics' systems delivered and what became of it."""
    return await store.deliveries(
        clinic_id=clinic_id, status=status, limit=limit, before_id=before_id
    )


async def delivery(delivery_id: int) -> DeliveryRow:
    row = await store.delivery(delivery_id)
    if row is None:
        raise NotFound("no such delivery")
    return row

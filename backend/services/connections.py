"""A clinic's integration as its adapter gets it: the row with its secrets unsealed (and
new ones sealed back), found by the hash of its inbound token."""

import hashlib
from datetime import timedelta
from typing import Any

from backend.integrations.base import Connection, CrmRejected, CrmUnavailable
from backend.runtime.clock import utcnow
from backend.runtime.secrets_box import seal, unseal
from backend.store import integrations as store
from backend.store.engine import write_transaction
from backend.store.outbox import Outcome
from backend.store.rows import IntegrationRow


def retry_later(exc: CrmUnavailable) -> Outcome:
    """The job again later: after the wait the CRM asked for, else the worker's backoff."""
    wait = timedelta(seconds=exc.retry_after) if exc.retry_after else None
    return Outcome(status="retry", detail=str(exc), retry_after=wait)


def crm_call_failed(exc: CrmUnavailable | CrmRejected, *, last_try: bool) -> Outcome:
    """A CRM call that did not go through, as the job's outcome: refused, or still down
    at the last try, the job failed; down before that, it is tried again."""
    if isinstance(exc, CrmRejected) or last_try:
        return Outcome(status="failed", detail=str(exc))
    return retry_later(exc)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def connection(row: IntegrationRow, secret_key: str) -> Connection:
    integration_id = row.id

    async def save_secrets(values: dict[str, Any]) -> None:
        async with write_transaction():
            await store.save_secrets(integration_id, seal(secret_key, values), utcnow())

    return Connection(
        integration_id=integration_id,
        clinic_id=row.clinic,
        system=row.system,
        config={**row.config, "timezone": row.clinic_timezone},
        secrets=unseal(secret_key, row.secrets),
        save_secrets=save_secrets,
    )


async def by_token(token: str, secret_key: str) -> Connection | None:
    """The integration whose inbound URL carries `token`, if any."""
    row = await store.by_token_hash(token_hash(token))
    return None if row is None else await connection(row, secret_key)

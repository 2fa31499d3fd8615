"""A clinic's integration as its adapter gets it: the row with its secrets unsealed (and
new ones sealed back), found by the hash of its inbound token."""

import hashlib
from typing import Any

from backend.integrations.base import Connection
from backend.runtime.clock import utcnow
from backend.runtime.secrets_box import seal, unseal
from backend.store import integrations as store
from backend.store.engine import write_transaction
from backend.store.rows import IntegrationRow


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

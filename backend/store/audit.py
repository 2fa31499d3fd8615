"""The audit log of staff access to personal data. Append-only (a trigger enforces it)."""

from datetime import datetime
from typing import Any

import msgspec

from backend.store.tables import AuditLog


async def write(
    *,
    at: datetime,
    actor: str,
    actor_role: str,
    action: str,
    object_kind: str,
    object_id: str,
    ip: str = "",
    request_id: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    await AuditLog.insert(
        AuditLog(
            at=at,
            actor=actor,
            actor_role=actor_role,
            action=action,
            object_kind=object_kind,
            object_id=object_id,
            ip=ip,
            request_id=request_id,
            details=msgspec.json.encode(details or {}).decode(),
        )
    )

"""Writing down every staff view of a patient's personal data (152-FZ, 323-FZ art. 13)."""

from typing import Any

import msgspec

from backend.runtime.clock import utcnow
from backend.services.staff_auth import StaffPrincipal
from backend.store import audit


class Viewer(msgspec.Struct, frozen=True, kw_only=True):
    """Who is looking, and from where: what the audit log needs beside the principal."""

    principal: StaffPrincipal
    ip: str = ""
    request_id: str = ""


async def saw(
    viewer: Viewer,
    *,
    action: str,
    object_kind: str,
    object_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.write(
        at=utcnow(),
        actor=viewer.principal.actor,
        actor_role=viewer.principal.role.value,
        action=action,
        object_kind=object_kind,
        object_id=object_id,
        ip=viewer.ip,
        request_id=viewer.request_id,
        details=details,
    )

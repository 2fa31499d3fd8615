"""The audit log: who looked at which patient's data."""

from typing import Annotated

import msgspec
from litestar import get
from litestar.params import QueryParameter

from backend.routes import staff_examples as ex
from backend.routes import staff_schemas as s
from backend.routes.docs import responds
from backend.routes.exchange import exchange_router
from backend.routes.paging import (
    DEFAULT_LIMIT,
    IdCursor,
    Limit,
)
from backend.routes.staff_security import OPERATOR, roles
from backend.services import (
    desk,
)


@get(
    "/audit",
    summary="The audit log",
    description="Who looked at which patient's data, when and from where. Newest first.",
    opt=roles(OPERATOR),
    responses=responds(s.AuditList, ex.AUDIT, "A page", errors=(400, 401, 403)),
)
async def get_audit(
    object_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
    actor: Annotated[str | None, QueryParameter(max_length=120)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: IdCursor = None,
) -> s.AuditList:
    rows = await desk.audit_log(limit=limit + 1, before_id=cursor, object_id=object_id, actor=actor)
    page, more = rows[:limit], len(rows) > limit
    items = [msgspec.convert(r, s.AuditEntry, from_attributes=True) for r in page]
    return s.AuditList(items=items, next_cursor=str(page[-1].id) if more and page else None)


router = exchange_router(get_audit)

"""Liveness and readiness, for load balancers and orchestrators."""

import logging

import msgspec
from litestar import get
from litestar.exceptions import HTTPException

from backend.routes.docs import responds
from backend.services.readiness import database_answers

log = logging.getLogger("plantrack.health")


class Health(msgspec.Struct, frozen=True):
    status: str


@get(
    "/health",
    summary="Liveness",
    description="The process is up and serving HTTP.",
    tags=["health"],
    sync_to_thread=False,
    responses=responds(Health, {"status": "ok"}, "Alive"),
)
def health() -> Health:
    return Health(status="ok")


@get(
    "/ready",
    summary="Readiness",
    description="The database answers. 503 with a problem description when it does not.",
    tags=["health"],
    responses=responds(Health, {"status": "ready"}, "Ready", errors=(503,)),
)
async def ready() -> Health:
    try:
        await database_answers()
    except Exception as exc:
        log.warning("database not ready", extra={"fields": {"error": type(exc).__name__}})
        raise HTTPException(status_code=503, detail="database unavailable") from exc
    return Health(status="ready")


ROUTES = [health, ready]

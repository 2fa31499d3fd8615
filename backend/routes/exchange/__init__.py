"""The exchange's API, /api/v1/exchange, one module an area (the app lists them).
Operators run it; analysts read the funnel and the scorecards but no patient's contact
data."""

from litestar import Router
from litestar.handlers import HTTPRouteHandler

from backend.routes.staff_security import staff_api


def exchange_router(*handlers: HTTPRouteHandler) -> Router:
    """An area's routes under /api/v1/exchange. A path's methods stay in one area:
    Litestar routes a path per router."""
    return staff_api("/api/v1/exchange", "exchange", handlers)

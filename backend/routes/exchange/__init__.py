"""The exchange's API, /api/v1/exchange, one module an area (the app lists them).
Operators run it; analysts read the funnel and the scorecards but no patient's contact
data."""

from litestar import Router
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler

from backend.routes.staff_security import provide_staff, provide_viewer, staff_guard


def exchange_router(*handlers: HTTPRouteHandler) -> Router:
    """An area's routes under /api/v1/exchange, for signed-in staff of the roles each
    route names. A path's methods stay in one area: Litestar routes a path per router."""
    return Router(
        path="/api/v1/exchange",
        route_handlers=list(handlers),
        guards=[staff_guard],
        dependencies={"staff": Provide(provide_staff), "viewer": Provide(provide_viewer)},
        security=[{"bearer": []}],
        tags=["exchange"],
    )

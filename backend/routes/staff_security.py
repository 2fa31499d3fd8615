"""Staff on every route: who is calling (bearer token or the admin cookie) and whether
their role may use this route. Each staff route names its roles in `opt["roles"]`."""

from collections.abc import Sequence
from typing import Any

from litestar import Request, Router
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler

from backend.domain.roles import Role
from backend.runtime.logs import request_id
from backend.services import staff_auth
from backend.services.audit import Viewer
from backend.services.errors import NotAuthenticated
from backend.services.staff_auth import StaffPrincipal
from backend.web.rate_limits import charge, client_address

COOKIE = "plantrack_staff"

CLINIC_STAFF = frozenset({Role.clinic_coordinator, Role.clinic_manager})
CLINIC_MANAGER = frozenset({Role.clinic_manager})
OPERATOR = frozenset({Role.exchange_operator})
EXCHANGE_READERS = frozenset({Role.exchange_operator, Role.exchange_analyst})
HEALTH = frozenset({Role.health_analyst})


def roles(allowed: frozenset[Role]) -> dict[str, Any]:
    return {"roles": allowed}


def session_token(connection: ASGIConnection, *, cookie: bool) -> str | None:
    """The API takes only a bearer token; the admin pages only their cookie, which a
    CSRF token protects. A cookie never opens the API (no cross-site requests there)."""
    if cookie:
        return connection.cookies.get(COOKIE)
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def authorise(connection: ASGIConnection, handler: BaseRouteHandler, *, cookie: bool) -> None:
    allowed = handler.opt.get("roles")
    if not allowed:  # a staff route that names no roles is a bug, not an open door
        raise PermissionDeniedException(detail="this route has no roles configured")
    token = session_token(connection, cookie=cookie)
    if not token:
        raise NotAuthorizedException(
            detail="sign in first", headers={"WWW-Authenticate": 'Bearer realm="plantrack"'}
        )
    try:
        principal = await staff_auth.session(token)
    except NotAuthenticated as exc:
        # A token that names no live session is a guess, or a stale one: counted like a
        # failed sign-in from this address, so guessing tokens costs the guesser.
        await charge(connection.app.state.settings, "auth", client_address(connection))
        raise NotAuthorizedException(
            detail=exc.detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from exc
    await charge(connection.app.state.settings, "staff", str(principal.staff_id))
    if principal.role not in allowed:
        raise PermissionDeniedException(detail=f"not for the {principal.role} role")
    connection.state.staff = principal


async def staff_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    await authorise(connection, handler, cookie=False)


async def admin_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    await authorise(connection, handler, cookie=True)


def client_ip(connection: ASGIConnection) -> str:
    return connection.client.host if connection.client else ""


async def sign_in(request: Request, *, email: str, password: str, totp: str) -> staff_auth.SignedIn:
    """A staff sign-in, from the API or the sign-in page: the request's address and browser
    go with it (the lockout per address, the session's record)."""
    return await staff_auth.sign_in(
        email=email,
        password=password,
        totp=totp,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )


async def provide_staff(request: Request) -> StaffPrincipal:
    return request.state.staff


async def provide_viewer(request: Request) -> Viewer:
    return Viewer(
        principal=request.state.staff,
        ip=client_ip(request),
        request_id=request_id.get(),
    )


def staff_api(path: str, tag: str, handlers: Sequence[HTTPRouteHandler]) -> Router:
    """Routes under `path` for signed-in staff (bearer token), each route naming the roles
    it admits; `staff` and `viewer` are there to inject."""
    return Router(
        path=path,
        route_handlers=list(handlers),
        guards=[staff_guard],
        dependencies={"staff": Provide(provide_staff), "viewer": Provide(provide_viewer)},
        security=[{"bearer": []}],
        tags=[tag],
    )

"""Staff sign-in for the API: e-mail, password and authenticator code in, a session out."""

from typing import Annotated

from litestar import Request, Router, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import PermissionDeniedException

from backend.routes import staff_bodies as b
from backend.routes import staff_examples as ex
from backend.routes import staff_security
from backend.routes.docs import example_body, problems, responds
from backend.routes.staff_schemas import StaffSession
from backend.routes.staff_security import (
    CLINIC_STAFF,
    EXCHANGE_READERS,
    HEALTH,
    provide_staff,
    roles,
    staff_guard,
)
from backend.services import staff_auth
from backend.services.staff_auth import EnrolmentNeeded, StaffPrincipal
from backend.web.rate_limits import auth_budget


@post(
    "/staff",
    summary="Sign in a staff member",
    description=(
        "E-mail, password and the current code of the authenticator app. Five failures per "
        "account or per address within 15 minutes are answered with 429 until the window "
        "ends. An account whose authenticator is not set up yet is answered 403; set it up "
        "from the key given when the account was made (or on the web sign-in page)."
    ),
    status_code=200,
    guards=[auth_budget],  # per client address, before any password is checked
    responses=responds(StaffSession, ex.SESSION, "Signed in", errors=(400, 401, 403, 429)),
)
async def sign_in_staff(
    request: Request, data: Annotated[b.StaffSignIn, example_body(ex.SIGN_IN)]
) -> StaffSession:
    try:
        signed = await staff_security.sign_in(
            request, email=data.email, password=data.password, totp=data.totp
        )
    except EnrolmentNeeded as exc:
        raise PermissionDeniedException(detail=str(exc)) from exc
    p = signed.principal
    return StaffSession(
        token=signed.token,
        expires_at=signed.expires_at,
        idle_minutes=int(staff_auth.IDLE.total_seconds() // 60),
        staff_id=p.staff_id,
        role=p.role,
        clinic_id=p.clinic_id,
    )


@post(
    "/staff/logout",
    summary="End the staff session",
    description="The session token stops working at once.",
    status_code=204,
    guards=[staff_guard],
    opt=roles(CLINIC_STAFF | EXCHANGE_READERS | HEALTH),
    responses=problems(401),
)
async def logout_staff(staff: NamedDependency[StaffPrincipal]) -> None:
    await staff_auth.sign_out(staff)


router = Router(
    path="/api/v1/auth",
    route_handlers=[sign_in_staff, logout_staff],
    dependencies={"staff": Provide(provide_staff)},
    tags=["auth"],
)

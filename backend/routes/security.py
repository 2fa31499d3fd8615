"""Reading the caller from the Authorization header."""

from uuid import UUID

import msgspec
from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from backend.auth.tokens import PATIENT_AUDIENCE, InvalidToken, read_access
from backend.runtime.clock import utcnow
from backend.services.patient_auth import session_live
from backend.web.rate_limits import charge


class PatientPrincipal(msgspec.Struct, frozen=True):
    patient_id: UUID
    session: UUID


def _unauthorized(detail: str, error: str | None = None) -> NotAuthorizedException:
    challenge = 'Bearer realm="plantrack"' + (f', error="{error}"' if error else "")
    return NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": challenge})


def bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("sign in first: send Authorization: Bearer <access token>")
    return token.strip()


# Where a request keeps its checked caller: the idempotency layer checks it before the
# handler does (backend.web.idempotency), and the check (a rate-limit count, a session
# read) is done once per request.
_CHECKED = "patient_principal"


async def patient_principal(request: Request) -> PatientPrincipal:
    state = request.scope.setdefault("state", {})
    checked = state.get(_CHECKED)
    if isinstance(checked, PatientPrincipal):
        return checked
    state[_CHECKED] = principal = await _check_patient(request)
    return principal


async def patient_signed(request: Request) -> PatientPrincipal:
    """The caller's signed token, checked and charged, but not yet its session: for a
    handler that checks the session in its own statement (the plan screen), and must."""
    return await _check_patient(request, session=False)


def session_ended() -> NotAuthorizedException:
    return _unauthorized("this session has ended; sign in again", "invalid_token")


async def _check_patient(request: Request, *, session: bool = True) -> PatientPrincipal:
    token = bearer_token(request)
    try:
        claims = read_access(
            request.app.state.key_ring, token, audience=PATIENT_AUDIENCE, now=utcnow()
        )
    except InvalidToken as exc:
        raise _unauthorized(str(exc), "invalid_token") from exc
    if claims.role != "patient":
        raise PermissionDeniedException(detail="this token is not a patient's")
    await charge(request.app.state.settings, "patient", str(claims.subject))
    # Logging out ends the session at once, not when the access token expires.
    if session and not await session_live(claims.session, claims.subject):
        raise session_ended()
    return PatientPrincipal(patient_id=claims.subject, session=claims.session)

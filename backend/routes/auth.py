"""Sign-in for patients (Firebase phone auth) and our own sessions."""

from typing import Annotated

from litestar import Request, Router, post
from litestar.exceptions import NotAuthorizedException

from backend.auth.firebase import FirebaseUnavailable, InvalidFirebaseToken
from backend.routes import patient_examples as ex
from backend.routes.docs import example_body, problems, responds
from backend.routes.patient_schemas import PatientSignIn, RefreshIn, Tokens
from backend.routes.security import patient_principal
from backend.services import patient_auth
from backend.services.errors import Unavailable
from backend.web.app_version import AppVersionGate
from backend.web.rate_limits import auth_budget


def _tokens(pair: patient_auth.TokenPair) -> Tokens:
    return Tokens(
        access_token=pair.access_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
        patient_id=pair.patient_id,
    )


@post(
    "/patient",
    summary="Sign in a patient",
    description=(
        "Exchange a Firebase ID token (phone sign-in) for our access and refresh tokens. "
        "The phone number in the Firebase token must be the one the exchange referred; with "
        "an invite code (from the link sent with a referral) it must be that referral's "
        "phone. A mismatch is 403 with the reason."
    ),
    status_code=200,
    # Per client address, before the token is checked. Refresh and logout are not
    # counted here: behind one NAT many patients share an address, and a spent sign-in
    # budget must not stop apps renewing their sessions.
    guards=[auth_budget],
    responses=responds(Tokens, ex.TOKENS, "Signed in", errors=(401, 403, 422, 503)),
    middleware=[AppVersionGate()],  # an app too old is told so before it signs in
)
async def sign_in_patient(
    request: Request, data: Annotated[PatientSignIn, example_body(ex.SIGN_IN)]
) -> Tokens:
    try:
        identity = await request.app.state.firebase.verify(data.firebase_id_token)
    except InvalidFirebaseToken as exc:
        raise NotAuthorizedException(detail=f"Firebase ID token rejected: {exc}") from exc
    except FirebaseUnavailable as exc:
        # Google's certificates out of reach: the token may be perfectly good.
        raise Unavailable(
            "Sign-in cannot check Firebase tokens right now. Send the request again shortly.",
            retry_after=exc.retry_after,
        ) from exc
    pair = await patient_auth.sign_in_patient(
        identity,
        invite_code=data.invite_code,
        ring=request.app.state.key_ring,
        settings=request.app.state.settings,
    )
    return _tokens(pair)


@post(
    "/refresh",
    summary="Rotate the refresh token",
    description=(
        "Use up a refresh token and get a new pair. A refresh token works once: presenting a "
        "used one again revokes the whole session (both holders must sign in again)."
    ),
    status_code=200,
    responses=responds(Tokens, ex.TOKENS, "A new pair", errors=(401,)),
    middleware=[AppVersionGate()],
)
async def refresh(request: Request, data: Annotated[RefreshIn, example_body(ex.REFRESH)]) -> Tokens:
    pair = await patient_auth.refresh_session(
        data.refresh_token, ring=request.app.state.key_ring, settings=request.app.state.settings
    )
    return _tokens(pair)


@post(
    "/logout",
    summary="End the session",
    description=(
        "End the session of the access token sent in the Authorization header: its refresh "
        "tokens stop working and so does the access token itself."
    ),
    status_code=204,
    responses=problems(401),
)
async def logout(request: Request) -> None:
    # The same check as every patient route: a token for a session that is not live
    # (or not its subject's) ends nothing.
    patient = await patient_principal(request)
    await patient_auth.log_out(family=patient.session)


router = Router(
    path="/api/v1/auth",
    route_handlers=[sign_in_patient, refresh, logout],
    tags=["auth"],
)

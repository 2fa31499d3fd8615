"""The plan screen's hot read, `GET /api/v1/me/referrals/{id}`, answered before
Litestar's router when it can be answered whole: a patient's valid access token, their
session live, their screen stored fresh (backend.services.screens). That is nearly every
read, and here it costs one statement and the token check, without routing, dependency
injection and the router's middleware chain (two thirds of the read's CPU before).

Anything else goes on, untouched, to the route (`routes.patient.get_referral`), which
answers it as it always has: no token or a bad one, an app version header, a browser's
cross-origin request, a query string, a session ended, a referral not theirs, a screen
to rebuild, the rate budget spent, the database away. So every rule and every error
lives in one place, and this layer can make the read faster but not different
(`tests/http/test_stored_screen_lane.py` compares the two answers)."""

import re
from uuid import UUID

from litestar.types import ASGIApp, Receive, Scope, Send

from backend.auth.tokens import PATIENT_AUDIENCE, InvalidToken, KeyRing, read_access
from backend.runtime.clock import utcnow
from backend.services import screens
from backend.settings import Settings
from backend.web.conditional import CACHE_CONTROL, KEEP_ON_304, entity_tag, matches
from backend.web.rate_limits import charge

# The route's path, and its template as Litestar names it in the access log.
_PATH = re.compile(
    r"/api/v1/me/referrals/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)
TEMPLATE = "/api/v1/me/referrals/{referral_id}"
JSON = b"application/json"
# Headers that need the router: the app's version (426 for an old one) and a browser's
# origin (CORS).
_ROUTED = (b"x-app-version", b"origin")


class StoredScreenLane:
    def __init__(self, app: ASGIApp, *, settings: Settings, key_ring: KeyRing) -> None:
        self.app = app
        self.settings = settings
        self.key_ring = key_ring

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _PATH.fullmatch(scope["path"])
            if match is not None:
                headers = dict(scope["headers"])
                body = await self._stored(headers, match[1])
                if body is not None:
                    scope["path_template"] = TEMPLATE
                    await _answer(headers.get(b"if-none-match"), body, send)
                    return
        await self.app(scope, receive, send)

    async def _stored(self, headers: dict[bytes, bytes], referral: str) -> bytes | None:
        if any(name in headers for name in _ROUTED):
            return None
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer":
            return None
        now = utcnow()
        try:
            claims = read_access(self.key_ring, token.strip(), audience=PATIENT_AUDIENCE, now=now)
        except InvalidToken:
            return None
        if claims.role != "patient":
            return None
        try:
            body = await screens.stored_fresh(claims.session, claims.subject, UUID(referral), now)
            if body is not None:
                # Counted only when answered here: a read passed on is counted by the route.
                await charge(self.settings, "patient", str(claims.subject))
        except Exception:  # the route meets it again, and answers it
            return None
        return body


async def _answer(if_none_match: bytes | None, body: bytes, send: Send) -> None:
    """As the route and `web.conditional.ConditionalGet` answer a stored screen."""
    tag = entity_tag(JSON, body)
    headers = [
        (b"content-type", JSON),
        (b"content-length", str(len(body)).encode()),
        (b"etag", tag),
        (b"cache-control", CACHE_CONTROL),
    ]
    if if_none_match is not None and matches(if_none_match, tag):
        kept = [(k, v) for k, v in headers if k in KEEP_ON_304]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

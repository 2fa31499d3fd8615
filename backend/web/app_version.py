"""X-App-Version: the patient app says which version it is, and an app older than the
configured minimum (PLANTRACK_MIN_APP_VERSION) gets 426 with the store links, so that
old apps can be retired. No header passes: the patient's web pages, other clients and
apps too old to send it cannot be told apart. A malformed version is a 400."""

import re

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from backend.services import texts
from backend.settings import APP_VERSION_PATTERN, Settings

HEADER = "X-App-Version"
_VERSION = re.compile(APP_VERSION_PATTERN)


def parse_version(value: str) -> tuple[int, ...] | None:
    """(1, 4, 2) for "1.4.2", padded so that 1.4 == 1.4.0; None if malformed."""
    if not _VERSION.match(value):
        return None
    parts = tuple(int(p) for p in value.split("."))
    return parts + (0,) * (4 - len(parts))


def _lang(scope: Scope) -> texts.Lang:
    accept = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
    return "en" if accept.decode("latin-1").strip().lower().startswith("en") else "ru"


def check_app_version(settings: Settings, scope: Scope) -> None:
    raw = next((v for k, v in scope["headers"] if k == b"x-app-version"), None)
    if raw is None:
        return
    given = raw.decode("latin-1").strip()
    version = parse_version(given)
    if version is None:
        raise ValidationException(detail=f"{HEADER} must be a version like 1.4.2")
    minimum = parse_version(settings.min_app_version) if settings.min_app_version else None
    if minimum is None or version >= minimum:
        return
    stores = {
        name: url
        for name, url in (
            ("app_store", settings.app_store_url),
            ("google_play", settings.google_play_url),
        )
        if url
    }
    raise HTTPException(
        status_code=426,
        detail=texts.UPGRADE[_lang(scope)],
        extra={
            "app_version": given,
            "min_app_version": settings.min_app_version,
            "store_links": stores,
        },
    )


class AppVersionGate(ASGIMiddleware):
    """Before anything else of the request runs (sign-in, an idempotency key)."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        check_app_version(scope["app"].state.settings, scope)
        await next_app(scope, receive, send)

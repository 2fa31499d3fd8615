"""ETag and 304 for GETs, wired once for a whole router (the patient API): a strong
ETag from a hash of the answer's body, `If-None-Match` answered with 304 and no body,
and `Cache-Control: private, no-cache` (personal data: a browser or the app may keep it
but must ask again before using it; no shared cache may keep it at all).

The answer is still built in full before it is hashed: a 304 saves the network and the
client's parsing, not the server's work (issue 22's precomputed screens will make the
tag cheap). A route opts out with `opt={NO_ETAG: True}` (a PDF made afresh each time,
a download that must not be kept)."""

import hashlib

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

NO_ETAG = "no_etag"
CACHE_CONTROL = b"private, no-cache"
# Headers a 304 keeps (RFC 9110 15.4.5): those a 200 would have sent about caching.
KEEP_ON_304 = {b"etag", b"cache-control", b"vary", b"expires", b"content-location", b"date"}


def entity_tag(content_type: bytes, body: bytes) -> bytes:
    digest = hashlib.sha256(content_type + b"\n" + body).hexdigest()[:32]
    return b'"' + digest.encode() + b'"'


def matches(if_none_match: bytes, tag: bytes) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): any listed tag, W/ or not."""
    value = if_none_match.strip()
    if value == b"*":
        return True
    return any(candidate.strip().removeprefix(b"W/") == tag for candidate in value.split(b","))


class ConditionalGet(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    exclude_opt_key = NO_ETAG

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] != "GET":
            await next_app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200:
                    await send(message)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            if start["status"] != 200:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await _answer(scope, start, b"".join(chunks), send)

        await next_app(scope, receive, hold)


async def _answer(scope: Scope, start: Message, body: bytes, send: Send) -> None:
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"etag"]
    names = {k.lower() for k, _ in headers}
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    tag = entity_tag(content_type, body)
    headers.append((b"etag", tag))
    if b"cache-control" not in names:
        headers.append((b"cache-control", CACHE_CONTROL))
    asked = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
    if asked is not None and matches(asked, tag):
        kept = [(k, v) for k, v in headers if k.lower() in KEEP_ON_304]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

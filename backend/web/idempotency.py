"""Idempotency-Key on POSTs, wired once for a whole router (the patient API): the
first answer to a key is kept and replayed to a retry of the same request
(backend.services.idempotency decides; this layer reads the request and the answer)."""

import re
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import ValidationException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.runtime.clock import utcnow
from backend.services import idempotency

HEADER = "Idempotency-Key"
# Visible ASCII, as Stripe's and the IETF draft's keys are (a UUID is the usual choice).
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_KEY = re.compile(KEY_PATTERN)
REPLAYED = b"idempotent-replayed"
# Answers that say nothing final about the request: who is asking (401, 403), a spent
# budget (429), the server's own trouble (5xx). A retry runs the request again.
NOT_FINAL = frozenset({401, 403, 408, 425, 429})


def key_of(scope: Scope) -> str | None:
    """The request's key, or None without the header; a malformed one is a 400."""
    raw = next((v for k, v in scope["headers"] if k == b"idempotency-key"), None)
    if raw is None:
        return None
    key = raw.decode("latin-1").strip()
    if not _KEY.match(key):
        raise ValidationException(
            detail=f"{HEADER} must be 1 to 255 visible ASCII characters (a UUID, say)"
        )
    return key


def is_final(status: int) -> bool:
    return status < 500 and status not in NOT_FINAL


class IdempotentPosts(ASGIMiddleware):
    """For a POST with an Idempotency-Key: who is asking (`identify`, the router's own
    authentication, which keeps its result for the handler), then the key — an answer
    given before is sent again with `Idempotent-Replayed: true`, a key of another request
    is a 422, one still being answered a 409; else the request runs and its answer is
    kept. Without the header nothing changes."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, identify: Callable[[Request], Awaitable[Any]]) -> None:
        # `identify` returns something with the patient's id as `patient_id`.
        self.identify = identify

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] != "POST" or (key := key_of(scope)) is None:
            await next_app(scope, receive, send)
            return
        request: Request = Request(scope, receive)
        body = await request.body()  # kept on the connection: the handler reads it again
        caller = await self.identify(request)
        patient_id: UUID = caller.patient_id
        query = scope.get("query_string", b"").decode("latin-1")
        request_hash = idempotency.fingerprint(scope["method"], scope["path"], query, body)
        earlier = await idempotency.begin(patient_id, key, request_hash, utcnow())
        if earlier is not None:
            await _replay(earlier, send)
            return
        status, content_type, chunks = 0, "", []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                content_type = headers.get(b"content-type", b"").decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        answer: idempotency.Answer | None = None
        try:
            await next_app(scope, receive, capture)
            body_out = b"".join(chunks)
            if status and is_final(status) and _is_text(body_out):
                answer = idempotency.Answer(status, content_type, body_out)
        finally:
            await idempotency.finish(patient_id, key, answer, utcnow())


def _is_text(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


async def _replay(answer: idempotency.Answer, send: Send) -> None:
    headers = [(b"content-length", str(len(answer.body)).encode()), (REPLAYED, b"true")]
    if answer.content_type:
        headers.append((b"content-type", answer.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})

"""The outermost ASGI layer: a request id for every request, and one access-log line."""

import asyncio
import logging
import re
import time
import uuid

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.runtime.logs import request_id

log = logging.getLogger("plantrack.http")

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = b"x-request-id"


class InFlight:
    """Requests being served in this process, so shutdown can wait for them: a server
    may start the app's shutdown while answers are still being written (Granian does),
    and closing the database pool under them would turn them into 500s."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def drained(self, timeout_s: float) -> bool:
        if self.count == 0:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


class RequestContext:
    """Take a caller's X-Request-ID if it looks like one (else make one), echo it back,
    and log the request by its route template, never its path or query."""

    def __init__(self, app: ASGIApp, in_flight: InFlight) -> None:
        self.app = app
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        rid = given if _VALID_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        self.in_flight.enter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.in_flight.leave()
            log.info(
                "request",
                extra={
                    "fields": {
                        "method": scope["method"],
                        "route": scope.get("path_template") or "(unmatched)",
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                    }
                },
            )
            request_id.reset(token)

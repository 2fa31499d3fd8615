"""A local stand-in for FCM HTTP v1 and Google's OAuth token endpoint, on loopback.

The real firebase-admin SDK talks to it: tests give the SDK a generated service-account
key whose token_uri is this server's /token, and point its send URL here. How it
answers depends on the registration token:

    ok-…           200, a message name
    gone-…         404 UNREGISTERED
    badtoken-…     400 INVALID_ARGUMENT about message.token
    badmsg-…       400 INVALID_ARGUMENT about something else
    mismatch-…     403 SENDER_ID_MISMATCH
    quota<N>-…     429 with Retry-After: N for the first two tries, then 200
    busy-…         503 for the first two tries, then 200
    slow-…         200 after 0.5 s

With `down` set, every send is answered 503 UNAVAILABLE (an outage) and counted in
`refused`.

Everything received is kept in `received` (thread-safe), in order.
"""

import asyncio
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import uvicorn

from tests.fakes.server import Running, lifespan, read_body


def _error(code: int, status: str, message: str, details: list) -> tuple[int, dict]:
    return code, {"error": {"code": code, "message": message, "status": status, "details": details}}


FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


@dataclass
class FakeFcm:
    received: list[dict] = field(default_factory=list)
    attempts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    down: bool = False
    refused: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, message: dict) -> tuple[int, dict, dict]:
        token = message.get("token", "")
        with self.lock:
            self.attempts[token] += 1
            tries = self.attempts[token]
        if token.startswith("gone-"):
            return (
                *_error(
                    404,
                    "NOT_FOUND",
                    "Requested entity was not found.",
                    [{"@type": FCM_ERROR, "errorCode": "UNREGISTERED"}],
                ),
                {},
            )
        if token.startswith("badtoken-"):
            return (
                *_error(
                    400,
                    "INVALID_ARGUMENT",
                    "The registration token is not a valid FCM registration token",
                    [
                        {"@type": FCM_ERROR, "errorCode": "INVALID_ARGUMENT"},
                        {
                            "@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [
                                {
                                    "field": "message.token",
                                    "description": "The registration token is not valid",
                                }
                            ],
                        },
                    ],
                ),
                {},
            )
        if token.startswith("badmsg-"):
            return (
                *_error(
                    400,
                    "INVALID_ARGUMENT",
                    "Invalid value at 'message.data'",
                    [
                        {"@type": FCM_ERROR, "errorCode": "INVALID_ARGUMENT"},
                        {
                            "@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [
                                {"field": "message.data", "description": "bad data"}
                            ],
                        },
                    ],
                ),
                {},
            )
        if token.startswith("mismatch-"):
            return (
                *_error(
                    403,
                    "PERMISSION_DENIED",
                    "SenderId mismatch",
                    [{"@type": FCM_ERROR, "errorCode": "SENDER_ID_MISMATCH"}],
                ),
                {},
            )
        quota = re.match(r"quota(\d+)-", token)
        if quota and tries <= 2:
            return (
                *_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded",
                    [{"@type": FCM_ERROR, "errorCode": "QUOTA_EXCEEDED"}],
                ),
                {"retry-after": quota.group(1)},
            )
        if token.startswith("busy-") and tries <= 2:
            return (*_error(503, "UNAVAILABLE", "The service is unavailable", []), {})
        with self.lock:
            self.received.append(message)
            n = len(self.received)
        return 200, {"name": f"projects/fake/messages/{n}"}, {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = await read_body(receive)
        path = scope["path"]
        headers: dict = {}
        if path == "/token":
            status, payload = (
                200,
                {"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"},
            )
        elif path.endswith("/messages:send") and self.down:
            with self.lock:
                self.refused += 1
            status, payload = _error(503, "UNAVAILABLE", "The service is unavailable", [])
        elif path.endswith("/messages:send"):
            message = json.loads(body)["message"]
            if message.get("token", "").startswith("slow-"):
                await asyncio.sleep(0.5)
            status, payload, headers = self.answer(message)
        else:
            status, payload = 404, {"error": {"code": 404, "message": "no such path"}}
        raw = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    *((k.encode(), v.encode()) for k, v in headers.items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    def delivered_tokens(self) -> list[str]:
        with self.lock:
            return [m["token"] for m in self.received]


def RunningFake(fake: FakeFcm | None = None) -> Running[FakeFcm]:
    """The fake FCM in a uvicorn server on its own thread and loop."""
    return Running(fake or FakeFcm())


if __name__ == "__main__":  # python -m tests.fakes.fcm PORT  (a separate process, for benchmarks)
    import sys

    uvicorn.run(
        FakeFcm(port=int(sys.argv[1])),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
    )

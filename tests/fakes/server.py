"""Running a fake vendor (an ASGI app with a `port`) in uvicorn on a loopback port, on a
thread and loop of its own, and the ASGI plumbing the fakes share."""

import json
import socket
import threading
import time
from typing import Any, Generic, TypeVar

import uvicorn

F = TypeVar("F")


class Running(Generic[F]):
    """The fake serves on a socket bound here and handed to uvicorn: a port found free
    and let go before uvicorn binds it could be taken meanwhile by another process (test
    runs side by side), and the fake's calls would reach a stranger."""

    def __init__(self, fake: F) -> None:
        self.fake = fake
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        fake.port = self.socket.getsockname()[1]  # type: ignore[attr-defined]
        config = uvicorn.Config(
            fake,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=fake.port,  # type: ignore[attr-defined]
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> F:
        self.thread.start()
        # Until it serves, however long a busy machine takes; a server that died says so.
        while not self.server.started:
            if not self.thread.is_alive():
                self.socket.close()
                raise RuntimeError(f"the fake {type(self.fake).__name__} did not start")
            time.sleep(0.01)
        return self.fake

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()


async def lifespan(receive, send) -> None:
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive) -> bytes:
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            return body


async def respond(
    send,
    status: int,
    payload: Any = None,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    raw = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *([(b"content-type", content_type.encode())] if raw else []),
                *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def answer_lost(receive):
    """An ASGI `send` for a request the fake carries out but never answers: the answer
    is dropped and the fake waits until the caller gives up and hangs up (a vendor whose
    reply is lost on the way, the case that tempts a retry to do things twice)."""

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            while (await receive())["type"] != "http.disconnect":
                pass

    return send

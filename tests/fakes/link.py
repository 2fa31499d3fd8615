"""A loopback TCP link in front of a fake vendor that can fail the ways networks do.

    with Link(upstream_port) as link:     # our code calls link.url instead of the fake's
        link.mode = "hang"                # accept the connection, read, never answer
        link.mode = "drop"                # accept the connection and close it at once
        link.mode = "down"                # nothing listening: connection refused
        link.mode = "pass"                # bytes through to the fake, both ways

A change of mode cuts the connections already open (as a network change would), so a
pooled keep-alive connection meets the new mode too. `hung` counts the connections
held without an answer, `cut` how many of those the caller gave up on (closed its end),
`accepted` every connection by mode.
"""

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from typing import Any, Literal

Mode = Literal["pass", "hang", "drop", "down"]


class Link:
    def __init__(self, upstream_port: int | None = None) -> None:
        self.upstream_port = upstream_port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._mode: Mode = "pass"
        self.accepted: Counter[str] = Counter()
        self.hung = 0
        self.cut = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._aborted: set[asyncio.StreamWriter] = set()  # by a change of mode, not the caller

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        self._call(self._switch(mode))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _switch(self, mode: Mode) -> None:
        self._mode = mode
        for writer in list(self._open):
            self._aborted.add(writer)
            writer.transport.abort()
        self._open.clear()
        listening = self._server is not None
        if mode == "down" and listening:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        elif mode != "down" and not listening:
            await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = self._mode
        with self._lock:
            self.accepted[mode] += 1
        if mode == "drop":
            writer.transport.abort()
            return
        self._open.add(writer)
        try:
            if mode == "hang":
                await self._hold(reader, writer)
            else:
                await self._pipe(reader, writer)
        except OSError:
            pass  # the fake behind is not there, or the caller left: as a network would
        finally:
            self._open.discard(writer)
            self._aborted.discard(writer)
            writer.transport.abort()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read whatever comes and answer nothing, until the caller gives up."""
        with self._lock:
            self.hung += 1
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass
        if writer not in self._aborted:
            with self._lock:
                self.cut += 1  # end of stream: the caller closed its side

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self.upstream_port is not None, "a link with no upstream can only fail"
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._open.add(up_writer)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        try:
            await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        finally:
            self._open.discard(up_writer)

    def __enter__(self) -> "Link":
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *exc: object) -> None:
        self.mode = "down"
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

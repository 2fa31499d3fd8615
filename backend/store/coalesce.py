"""Concurrent calls of one read, made as one statement.

The patient's plan screen is read by many requests at once, each a single indexed
statement whose cost is mostly the round trip: the pool's acquire and release, the
driver, the server's wake-up. `Coalesced` lets a read wait while the statement before it
is in flight and sends the reads that gathered meanwhile as one statement (arrays
unnested on the server), so under load the round trip is shared and under no load a
read goes at once, as before. Each read still gets exactly its own answer or the
statement's error."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Key = TypeVar("Key")
Row = TypeVar("Row")

MAX_BATCH = 256  # reads per statement; more wait for the next one


class Coalesced(Generic[Key, Row]):
    """`await read(key)`: the answer of `many([... key ...])` for that key, where `many`
    answers a list of keys with a list of rows in the same order. One statement in
    flight per event loop at a time."""

    def __init__(self, many: Callable[[Sequence[Key]], Awaitable[Sequence[Row]]]) -> None:
        self._many = many
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[Key, asyncio.Future[Row]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def __call__(self, key: Key) -> Row:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a process serves one loop; its tests, many
            self._loop, self._waiting, self._sender = loop, [], None
        answer: asyncio.Future[Row] = loop.create_future()
        self._waiting.append((key, answer))
        if self._sender is None or self._sender.done():
            # Started on the next turn of the loop: reads arriving in this one join it.
            self._sender = loop.create_task(self._send())
        return await answer

    async def _send(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            try:
                rows = await self._many([key for key, _ in batch])
            except Exception as exc:
                for _, answer in batch:
                    if not answer.done():  # a read whose request went away is done
                        answer.set_exception(exc)
                continue
            for (_, answer), row in zip(batch, rows, strict=True):
                if not answer.done():
                    answer.set_result(row)

"""Concurrent reads made as one statement (backend.store.coalesce): each read gets its
own answer or its statement's error, a lone read goes at once, and reads arriving while
a statement is in flight make the next one."""

import asyncio
from collections.abc import Sequence

import pytest

from backend.store import coalesce
from backend.store.coalesce import Coalesced


class Statements:
    """A stand-in for the database: answers each key with key * 10, records each batch,
    and holds a batch open until released when asked to."""

    def __init__(self, *, hold: bool = False, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.hold = hold
        self.fail_on = fail_on
        self.release = asyncio.Event()

    async def many(self, keys: Sequence[int]) -> list[int]:
        self.batches.append(list(keys))
        if self.hold:
            await self.release.wait()
        if self.fail_on in keys:
            raise ConnectionError(f"statement with {self.fail_on} failed")
        return [k * 10 for k in keys]


async def test_reads_arriving_together_are_one_statement_and_each_gets_its_own():
    db = Statements()
    read = Coalesced(db.many)
    answers = await asyncio.gather(*(read(k) for k in range(1, 8)))
    assert answers == [10, 20, 30, 40, 50, 60, 70]
    assert db.batches == [[1, 2, 3, 4, 5, 6, 7]]


async def test_a_lone_read_goes_at_once():
    db = Statements()
    read = Coalesced(db.many)
    assert await read(4) == 40
    assert await read(5) == 50
    assert db.batches == [[4], [5]]


async def test_reads_arriving_meanwhile_make_the_next_statement():
    db = Statements(hold=True)
    read = Coalesced(db.many)
    first = asyncio.ensure_future(read(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert db.batches == [[1]]  # in flight
    later = [asyncio.ensure_future(read(k)) for k in (2, 3, 4)]
    await asyncio.sleep(0)
    assert db.batches == [[1]]  # one statement in flight at a time
    db.release.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40]
    assert db.batches == [[1], [2, 3, 4]]


async def test_an_error_goes_to_the_reads_of_its_statement_only():
    db = Statements(hold=True, fail_on=2)
    read = Coalesced(db.many)
    first = [asyncio.ensure_future(read(k)) for k in (1, 2)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = asyncio.ensure_future(read(3))
    db.release.set()
    for failed in first:
        with pytest.raises(ConnectionError):
            await failed
    assert await later == 30  # the next statement is sent all the same


async def test_a_read_whose_request_went_away_does_not_stop_the_others():
    db = Statements(hold=True)
    read = Coalesced(db.many)
    gone, kept = asyncio.ensure_future(read(1)), asyncio.ensure_future(read(2))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    gone.cancel()
    db.release.set()
    assert await kept == 20
    assert gone.cancelled()


async def test_a_statement_holds_at_most_max_batch_reads(monkeypatch):
    monkeypatch.setattr(coalesce, "MAX_BATCH", 3)
    db = Statements()
    read = Coalesced(db.many)
    assert await asyncio.gather(*(read(k) for k in range(7))) == [k * 10 for k in range(7)]
    assert db.batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_each_event_loop_starts_afresh():
    db = Statements()
    read = Coalesced(db.many)
    assert asyncio.run(read(1)) == 10
    assert asyncio.run(read(2)) == 20  # a new loop: nothing of the old one is awaited
    assert db.batches == [[1], [2]]

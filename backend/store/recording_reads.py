"""What the recording reads of a referral it holds locked: the id of its newest event
(the fold in progress stored with it is current if it saw that one; the ledger itself is
read only when it is not), and the derived rows it rewrites by difference (questions,
funnel facts, verifications, conversion position, pending timers).

On PostgreSQL they come in one statement, each as an array of rows (asyncpg decodes
the anonymous records with their types): a claim's reads cost one round trip, not six.
Each module keeps its own columns and row reading; SQLite runs the same reads one by
one (in-process, a read there costs no round trip)."""

from typing import Any
from uuid import UUID

import msgspec

from backend.domain.questions import AskedQuestion
from backend.store import conversion, funnel_facts, ledger, outbox, questions, sql, verifications
from backend.store.engine import is_postgres


class Stored(msgspec.Struct, kw_only=True):
    newest: int  # the id of the referral's newest event (0: none)
    asked: list[AskedQuestion]
    facts: list[dict[str, Any]]  # rows of funnel_facts.STORED
    verifications: dict[str, tuple]  # verifications.stored_from
    conversion: tuple | None  # the row of conversion.STORED, None when there is none
    timers: set[str]  # dedupe keys of the pending timers of the topics asked for


def _reads(timer_topics: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """Each read with its columns, in the order `Stored` is made from."""
    timers = outbox.pending_timers_query(len(timer_topics))
    return [
        (ledger.NEWEST_OF, ("newest",)),
        (questions.ASKED_FOR, questions.ASKED_COLUMNS),
        (funnel_facts.STORED, funnel_facts.STORED_COLUMNS),
        (verifications.STORED, verifications.STORED_COLUMNS),
        (conversion.STORED, conversion.STORED_COLUMNS),
        (timers, ("dedupe_key",)),
    ]


async def load(referral_id: UUID, timer_topics: tuple[str, ...]) -> Stored:
    """Read everything the recording needs of a locked referral besides its lock row
    and its clinic's rules."""
    reads = _reads(timer_topics)
    args_of = [[referral_id]] * (len(reads) - 1) + [[referral_id, *timer_topics]]
    if is_postgres():
        arrays = ", ".join(
            f"ARRAY(SELECT ROW(s.*) FROM ({q}) s) AS r{n}"  # noqa: S608 (ours)
            for n, (q, _) in enumerate(reads)
        )
        row = (await sql.run(f"SELECT {arrays}", *(a for args in args_of for a in args)))[0]
        results = [
            [dict(zip(columns, record, strict=True)) for record in row[f"r{n}"]]
            for n, (_, columns) in enumerate(reads)
        ]
    else:
        results = [await sql.run(q, *args) for (q, _), args in zip(reads, args_of, strict=True)]
    newest, asked, facts, verified, position, timers = results
    return Stored(
        newest=newest[0]["newest"],
        asked=questions.asked_from(asked),
        facts=facts,
        verifications=verifications.stored_from(verified),
        conversion=tuple(position[0][c] for c in conversion.STORED_COLUMNS) if position else None,
        timers={r["dedupe_key"] for r in timers},
    )

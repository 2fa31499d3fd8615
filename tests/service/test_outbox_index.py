"""The question every recording asks the outbox (which of this referral's timers are
pending) is answered from a partial index, not by scanning every pending timer (the
soak found the scan: 2.8 ms per claim at 17,796 pending timers, growing with the city)."""

from uuid import uuid4

from backend.store.engine import is_postgres, write_transaction
from backend.store.outbox import pending_timers_query
from backend.store.tables import Outbox


async def test_pending_timers_use_the_partial_index(db):
    # The statement outbox.keep_timers sends, with its values written in.
    query = pending_timers_query(2).format(f"'{uuid4()}'", "'timer'", "'staff_alert.timer'")
    if is_postgres():
        # An empty table is cheapest to scan; asked to avoid scans, the planner shows
        # whether the index can answer this query at all (its predicate must match).
        # SET LOCAL, in a transaction: pooled connections are not reset between uses.
        async with write_transaction():
            await Outbox.raw("SET LOCAL enable_seqscan = off")
            rows = await Outbox.raw(f"EXPLAIN {query}")
        plan = " ".join(next(iter(r.values())) for r in rows)
    else:
        rows = await Outbox.raw(f"EXPLAIN QUERY PLAN {query}")
        plan = " ".join(r["detail"] for r in rows)
    assert "outbox_pending_by_referral" in plan, plan

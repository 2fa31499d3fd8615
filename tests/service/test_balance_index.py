"""A month's reserve is read from the balances' index alone on PostgreSQL (m0055): at 1M
referrals, visiting a table page per clinic and cohort made the report 3–4× slower
whenever other reports had pushed those pages out of the buffers (bench/RESULTS.md)."""

from backend.store.engine import is_postgres, write_transaction
from backend.store.funnel_facts import month_sums_query
from backend.store.tables import FunnelMonth


async def plan_of(statement: str, args: list) -> str:
    if is_postgres():
        # Empty tables are cheapest to scan; asked to avoid scans, the planner shows
        # whether the index alone can answer. SET LOCAL: pooled connections are not reset.
        async with write_transaction():
            await FunnelMonth.raw("SET LOCAL enable_seqscan = off")
            await FunnelMonth.raw("SET LOCAL enable_bitmapscan = off")
            rows = await FunnelMonth.raw(f"EXPLAIN {statement}", *args)
        return "\n".join(next(iter(r.values())) for r in rows)
    rows = await FunnelMonth.raw(f"EXPLAIN QUERY PLAN {statement}", *args)
    return "\n".join(r["detail"] for r in rows)


async def test_the_months_reserve_is_read_from_the_balances_index(db):
    # The report of every specialization (one specialization's reads funnel_balance,
    # whose key index the planner may prefer on an empty table).
    statement, args = month_sums_query(None, ["2026-10"], "2026-10")
    plan = await plan_of(statement, args)
    index = "ix_funnel_clinic_balance_open"
    if is_postgres():
        assert f"Index Only Scan using {index}" in plan, plan
    else:  # SQLite has no INCLUDE: the same partial index finds the rows
        assert index in plan, plan

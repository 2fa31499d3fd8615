"""The reserve's running balances (store.funnel_facts, funnel_balance) and the month's
flows per clinic (funnel_month_flow) against what they replace: after stories recorded
out of order — items reported days and months late, closings back-dated before
earlier-recorded work — in several clinics, the period funnel read from them equals the
one that sums every month's movements by cohort; each balance row (per specialization,
and per clinic over every specialization) is the sum of its key's movements up to its month; each
flow row is the facts of its clinic, month, kind, split and reason summed; migrations
m0050 and m0052 fill the same rows from the monthly sums, and a refold keeps them. On
SQLite and PostgreSQL, with concurrent recordings of one key on the latter."""

import asyncio
import contextlib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.domain.events import Closed, Completed, ItemDone, Source
from backend.domain.funnel import fold_referral
from backend.services import reports
from backend.services.errors import ServiceError
from backend.services.recording import Statement, record, refold_all
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, send_referral
from backend.store import funnel_facts, ledger
from backend.store.engine import current_engine
from backend.store.migrations.m0050_funnel_balance_filled import FILL
from backend.store.migrations.m0052_funnel_month_flow_filled import (
    FILL as FILL_FLOWS,
)
from backend.store.migrations.m0052_funnel_month_flow_filled import (
    FILL_CLINIC_BALANCES,
)
from backend.store.tables import FunnelBalance
from tests.factories import make_clinic

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
BASE = date(2026, 9, 1)
SPECS = ["therapy", "implantology"]
FLOW_COLUMNS = '"clinic", "month", "kind", "split", "reason", "cohort", "amount", "count"'
FLOWS_FROM_FACTS = (
    'SELECT "clinic", "month", "kind", "split", "reason", "cohort", SUM("amount") AS '
    '"amount", SUM("count") AS "count" FROM (SELECT "clinic", "month", "kind", "split", '
    '"reason", CASE WHEN "cohort" >= "month" THEN "cohort" ELSE \'\' END AS "cohort", '
    '"amount", "count" FROM "funnel_fact" WHERE "kind" IN ({kinds})) AS f '
    'GROUP BY "clinic", "month", "kind", "split", "reason", "cohort" '
    'HAVING SUM("amount") <> 0 OR SUM("count") <> 0'
)

# One step: what, how many days after the sending it happened, which item.
step = st.tuples(
    st.sampled_from(["item", "item", "item", "completed", "closed"]),
    st.integers(min_value=0, max_value=150),
    st.integers(min_value=0, max_value=5),
)
story = st.tuples(
    st.integers(min_value=0, max_value=2),  # clinic
    st.integers(min_value=0, max_value=120),  # sent, days after BASE
    st.lists(st.integers(min_value=1, max_value=900_000), min_size=1, max_size=3),
    st.lists(step, max_size=6),  # recorded in this order, whatever their dates
)


def at(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


async def send(clinic_id: UUID, sent: date, prices: list[int]) -> UUID:
    done = await send_referral(
        patient=PatientIn(phone=f"+7916{uuid4().int % 10**7:07d}"),
        clinic_id=clinic_id,
        plan=PlanIn(
            items=[PlanItemIn(specialization=SPECS[price % 2], price=price) for price in prices]
        ),
        actor="test",
        sent_at=at(sent),
        now=NOW,
    )
    return done.referral_id


async def play(referral_id: UUID, sent: date, steps) -> None:
    items = [line.item_id for line in fold_referral(await ledger.events_of(referral_id)).plan.lines]
    for kind, days, choice in steps:
        body = {
            "item": ItemDone(item_id=items[choice % len(items)]),
            "completed": Completed(),
            "closed": Closed(reason="передумал"),
        }[kind]
        statement = Statement(
            body=body,
            source=Source.clinic_panel,
            actor="staff:t",
            occurred_at=min(at(sent + timedelta(days=days)), NOW),
        )
        with contextlib.suppress(ServiceError):  # refused by the rules: nothing recorded
            await record(referral_id, statement, now=NOW)


async def rows(statement: str, *args) -> list[tuple]:
    got = await FunnelBalance.raw(statement, *args)
    # PostgreSQL sums big integers as decimals
    return sorted(
        tuple(str(int(v)) if isinstance(v, Decimal) else str(v) for v in r.values()) for r in got
    )


async def balances(table: str = "funnel_balance") -> list[tuple]:
    columns = ", ".join(f'"{c}"' for c in funnel_facts.BALANCES[table])
    return await rows(
        f'SELECT {columns}, "month", "next_month", "amount", "count" FROM "{table}"'  # noqa: S608
    )


async def assert_balances_are_running_sums() -> None:
    """Each row: its key's reserve movements summed up to its month, holding until the
    key's next row; and a row for exactly the months that have movements. Per clinic,
    cohort and specialization (funnel_balance), and per clinic and cohort over every
    specialization (funnel_clinic_balance)."""
    for table, key in funnel_facts.BALANCES.items():
        columns = ", ".join(f'"{c}"' for c in key)

        def same(alias: str, key=key) -> str:
            return " AND ".join(f'{alias}."{c}" = m."{c}"' for c in key)

        summed = await rows(
            'WITH "moves" AS (SELECT * FROM "funnel_month" WHERE "kind" = \'reserve\') '  # noqa: S608
            f'SELECT {", ".join(f"m.{c}" for c in columns.split(", "))}, m."month", '
            f'COALESCE((SELECT MIN(n."month") FROM "moves" n WHERE {same("n")} '
            'AND n."month" > m."month"), \'9999-99\') AS "next", '
            f'(SELECT SUM(p."amount") FROM "moves" p WHERE {same("p")} '
            'AND p."month" <= m."month") AS "amount", '
            f'(SELECT SUM(p."count") FROM "moves" p WHERE {same("p")} '
            'AND p."month" <= m."month") AS "count" '
            f'FROM (SELECT DISTINCT {columns}, "month" FROM "moves") m'
        )
        assert await balances(table) == summed, table


async def flows() -> list[tuple]:
    """funnel_month_flow's rows holding money or counts (a sum taken back to nothing
    may keep its row)."""
    return await rows(
        f'SELECT {FLOW_COLUMNS} FROM "funnel_month_flow" '  # noqa: S608
        'WHERE "amount" <> 0 OR "count" <> 0'
    )


async def assert_flows_are_the_facts_summed() -> None:
    """Each month's flows per clinic, kind, split and reason are the facts' (not the
    monthly sums', which are kept by the same code), the cohort kept only where the
    referral was not sent before the month."""
    kinds = funnel_facts.FUNNEL_KINDS
    marks = ", ".join("{}" for _ in kinds)
    summed = await rows(FLOWS_FROM_FACTS.format(kinds=marks), *kinds)
    assert await flows() == summed


def month_ends(first: date, months: int) -> list[tuple[date, date]]:
    periods, month = [], first.replace(day=1)
    for _ in range(months):
        end = reports.month_end(month)
        periods.append((month, end))
        month = end + timedelta(days=1)
    # and periods ending inside a month, and a quarter
    periods += [
        (first, first + timedelta(days=45)),
        (first, reports.month_end(first) + timedelta(days=92)),
    ]
    return periods


async def assert_reports_agree(
    monkeypatch: pytest.MonkeyPatch, scopes: list[list[UUID] | None]
) -> None:
    """The period funnel read from the balances == the funnel summing the movements."""
    for scope in scopes:
        for specialization in (None, SPECS[1]):
            for first, last in month_ends(BASE, 10):
                got = await reports.funnel(
                    scope, first=first, last=last, specialization=specialization
                )
                with monkeypatch.context() as m:
                    m.setattr(funnel_facts, "month_sums", funnel_facts.month_sums_from_movements)
                    want = await reports.funnel(
                        scope, first=first, last=last, specialization=specialization
                    )
                assert msgspec.to_builtins(got) == msgspec.to_builtins(want), (
                    scope,
                    specialization,
                    first,
                    last,
                )


async def assert_fill_rebuilds_them() -> None:
    """Migrations m0050's and m0052's fillings, run on the monthly sums, give the same
    rows."""
    kept = [await balances(table) for table in funnel_facts.BALANCES]
    kept_flows = await flows()
    for table in ("funnel_balance", "funnel_clinic_balance", "funnel_month_flow"):
        await FunnelBalance.raw(f'DELETE FROM "{table}"')  # noqa: S608
    for statement in (FILL, FILL_CLINIC_BALANCES, FILL_FLOWS):
        await current_engine().run_ddl(statement)
    assert [await balances(table) for table in funnel_facts.BALANCES] == kept
    assert await flows() == kept_flows


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(story, min_size=1, max_size=6))
async def test_reserve_from_balances_equals_the_summed_movements(db, monkeypatch, stories):
    clinics = [await make_clinic(f"K{n}") for n in range(3)]
    for clinic, sent_day, prices, steps in stories:
        sent = BASE + timedelta(days=sent_day)
        referral_id = await send(clinics[clinic], sent, prices)
        await play(referral_id, sent, steps)

    await assert_balances_are_running_sums()
    await assert_flows_are_the_facts_summed()
    await assert_reports_agree(monkeypatch, [None, clinics[:1], clinics[1:]])
    await assert_fill_rebuilds_them()


async def test_a_back_dated_fact_moves_every_later_month(db, monkeypatch):
    clinics = [await make_clinic("A"), await make_clinic("B")]
    sent = date(2026, 9, 10)
    first = await send(clinics[0], sent, [100_000, 300_000, 200_000])
    other = await send(clinics[1], sent, [50_000])
    # Work in October (A) and December (B) is reported first; then A's item done back in
    # September, and A closed in November with one item undone.
    await play(first, sent, [("item", 30, 0)])
    await play(other, sent, [("item", 95, 0)])
    before = await reports.funnel(None, first=date(2027, 1, 1), last=date(2027, 1, 31))
    await play(first, sent, [("item", 5, 1), ("closed", 60, 0)])
    await assert_balances_are_running_sums()
    await assert_flows_are_the_facts_summed()
    await assert_reports_agree(monkeypatch, [None, clinics[:1]])

    reserve_at = {}
    for month in ("2026-09", "2026-10", "2026-11", "2027-01"):
        first_day = date.fromisoformat(month + "-01")
        f = await reports.funnel(None, first=first_day, last=reports.month_end(first_day))
        reserve_at[month] = (f.reserve_money, f.reserve_count)
    assert reserve_at == {
        "2026-09": (300_000 + 50_000, 2),
        "2026-10": (200_000 + 50_000, 2),
        "2026-11": (50_000, 1),
        "2027-01": (0, 0),
    }
    assert (before.reserve_money, before.reserve_count) == (500_000, 1)
    await assert_fill_rebuilds_them()


async def test_refold_keeps_the_balances(db):
    clinic = await make_clinic("A")
    for n in range(4):
        sent = BASE + timedelta(days=20 * n)
        referral_id = await send(clinic, sent, [10_000 * (n + 1), 70_000])
        await play(referral_id, sent, [("item", 40, 1), ("item", 3, 0)][: n % 3])
    kept = [await balances(table) for table in funnel_facts.BALANCES]
    kept_flows = await flows()
    assert all(kept) and kept_flows
    # A refold writes only differences; from facts removed it rewrites every sum.
    for table in ("funnel_fact", "funnel_month", *funnel_facts.BALANCES, "funnel_month_flow"):
        await FunnelBalance.raw(f'DELETE FROM "{table}"')  # noqa: S608
    assert await refold_all(now=NOW) == 4
    assert [await balances(table) for table in funnel_facts.BALANCES] == kept
    assert await flows() == kept_flows


async def test_concurrent_recordings_of_one_key_lose_nothing(db, monkeypatch):
    """Referrals of one clinic, cohort and specialization, their items recorded at
    once, in both orders of months: every movement lands in every later balance."""
    clinic = await make_clinic("A")
    sent = date(2026, 9, 2)
    referrals = [await send(clinic, sent, [10_000, 20_000, 40_000]) for _ in range(8)]

    async def work(n: int, referral_id: UUID) -> None:
        days = [70, 3, 35] if n % 2 else [3, 35, 70]  # some back-dated, some in order
        await play(referral_id, sent, [("item", d, k) for k, d in enumerate(days)])

    await asyncio.gather(*(work(n, r) for n, r in enumerate(referrals)))
    await assert_balances_are_running_sums()
    await assert_flows_are_the_facts_summed()
    await assert_reports_agree(monkeypatch, [None])
    f = await reports.funnel(None, first=date(2026, 10, 1), last=date(2026, 10, 31))
    # Left at October's end: 40,000 of the plans done in order, 10,000 of the others.
    assert (f.reserve_money, f.reserve_count) == (4 * 40_000 + 4 * 10_000, 8)
    assert len(await balances()) == 3  # September to November, one key
    assert len(await balances("funnel_clinic_balance")) == 3

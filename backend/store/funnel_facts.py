"""Funnel facts: each referral's dated movements (rewritten with its derived rows),
and the sums reports are made of."""

import hashlib
from datetime import date
from typing import Any
from uuid import UUID

from piccolo.query.functions.aggregate import Sum

from backend.domain.funnel_facts import ReferralFacts
from backend.store import sql
from backend.store.engine import is_postgres, reports_node
from backend.store.rows import FunnelSum, HealthFact, typed
from backend.store.tables import FunnelFact, FunnelMonth

Key = tuple[str, str, str, str, str, str]  # cohort, specialization, month, kind, split, reason

_FACT_COLUMNS = (
    "clinic",
    "cohort",
    "specialization",
    "month",
    "kind",
    "split",
    "reason",
    "amount",
    "count",
    "day",
    "sent_day",
)
ADD_TO_MONTHS = (
    'INSERT INTO "funnel_month" ("clinic", "cohort", "specialization", "month", "kind", '
    '"split", "reason", "amount", "count") VALUES {values} '
    'ON CONFLICT ("clinic", "month", "cohort", "specialization", "kind", "split", "reason") '
    "DO UPDATE SET "
    '"amount" = "funnel_month"."amount" + excluded."amount", '
    '"count" = "funnel_month"."count" + excluded."count"'
)
ADD_TO_FLOWS = (
    'INSERT INTO "funnel_month_flow" ("clinic", "month", "kind", "split", "reason", '
    '"cohort", "amount", "count") VALUES {values} '
    'ON CONFLICT ("month", "clinic", "kind", "split", "reason", "cohort") '
    "DO UPDATE SET "
    '"amount" = "funnel_month_flow"."amount" + excluded."amount", '
    '"count" = "funnel_month_flow"."count" + excluded."count"'
)


def _comparable(row: dict[str, Any]) -> tuple:
    return (
        str(row["clinic"]),
        row["cohort"],
        row["specialization"],
        row["kind"],
        row["split"],
        row["reason"],
        row["amount"],
        row["count"],
        str(row["day"]),
        str(row["sent_day"]),
    )


STORED_COLUMNS = ("id", *_FACT_COLUMNS, "currency")
STORED = f"SELECT {', '.join(STORED_COLUMNS)} FROM funnel_fact WHERE referral = {{}}"  # noqa: S608


async def replace(
    referral_id: UUID,
    clinic_id: UUID,
    facts: ReferralFacts | None,
    old: list[dict[str, Any]],
) -> None:
    """The referral's facts as they are now, and the difference added to the monthly
    sums. Derived rows, not records: the ledger keeps the history, these follow it.
    `old`: its facts as stored (rows of STORED, read with the recording's others)."""
    rows = [
        {
            "clinic": clinic_id,
            "cohort": facts.cohort,
            "specialization": facts.specialization,
            "month": f.day.strftime("%Y-%m"),
            "kind": f.kind,
            "split": f.split,
            "reason": f.reason,
            "amount": f.amount,
            "count": f.count,
            "day": f.day,
            "sent_day": facts.sent_day,
        }
        for f in (facts.facts if facts else ())
    ]
    delta: dict[tuple[UUID, Key], list[int]] = {}
    for sign, group in ((-1, old), (1, rows)):
        for r in group:
            key = (
                r["clinic"],
                (r["cohort"], r["specialization"], r["month"], r["kind"], r["split"], r["reason"]),
            )
            sums = delta.setdefault(key, [0, 0])
            sums[0] += sign * r["amount"]
            sums[1] += sign * r["count"]
    changed = [(k, v) for k, v in delta.items() if v != [0, 0]]
    # Only what differs is written: a new event usually adds a fact or two and leaves
    # the rest as they were (identical facts are matched as a multiset).
    kept: dict[tuple, list[Any]] = {}
    currency = facts.currency if facts else None
    for r in old:
        key = _comparable(r) if r["currency"] == currency else ("other currency", r["id"])
        kept.setdefault(key, []).append(r["id"])
    added = []
    for r in rows:
        same = kept.get(_comparable(r))
        if same:
            same.pop()
        else:
            added.append(r)
    removed = [fact_id for ids in kept.values() for fact_id in ids]
    if removed:
        await sql.run(
            f"DELETE FROM funnel_fact WHERE id IN ({sql.marks(len(removed))})",  # noqa: S608
            *removed,
        )
    if added:
        assert facts is not None
        args: list[Any] = []
        for r in added:
            args += [referral_id, facts.currency, *(r[c] for c in _FACT_COLUMNS)]
        await sql.run(
            sql.insert("funnel_fact", ("referral", "currency", *_FACT_COLUMNS), len(added)),
            *args,
        )
    if changed:
        await _add_to_months(changed)
        await _move_balances(
            [(clinic, key, amount, count) for (clinic, key), (amount, count) in changed]
        )


async def _add_to_months(changed: list[tuple[tuple[UUID, Key], list[int]]]) -> None:
    """The differences added to the monthly sums and, for the flows, to their sums per
    clinic (funnel_month_flow): on PostgreSQL in one statement, the first as its WITH
    (no round trip more); SQLite, which writes nothing in a WITH, takes two. Each in a
    fixed order, so that two recordings touching the same months take their row locks
    alike."""
    args: list[Any] = []
    for (clinic, key), (amount, count) in sorted(changed, key=lambda kv: (str(kv[0][0]), kv[0][1])):
        args += [clinic, *key, amount, count]
    months = ADD_TO_MONTHS.format(values=sql.rows_of(len(changed), 9))
    flows = _flows_of(changed)
    if not flows:
        await sql.run(months, *args)
        return
    flow_args: list[Any] = []
    for (clinic, *key), (amount, count) in flows:
        flow_args += [clinic, *key, amount, count]
    to_flows = ADD_TO_FLOWS.format(values=sql.rows_of(len(flows), 8))
    await sql.run_together([(months, args), (to_flows, flow_args)])


def _flows_of(changed: list[tuple[tuple[UUID, Key], list[int]]]) -> list[tuple[tuple, list[int]]]:
    """The flows among the changed monthly sums, summed over the specializations and
    without the cohort where the referral was sent before the month, in
    funnel_month_flow's key order."""
    flows: dict[tuple, list[int]] = {}
    for (clinic, (cohort, _specialization, month, kind, split, reason)), (amount, count) in changed:
        if kind not in FUNNEL_KINDS:
            continue
        kept = cohort if cohort >= month else ""
        sums = flows.setdefault((clinic, month, kind, split, reason, kept), [0, 0])
        sums[0] += amount
        sums[1] += count
    return sorted(
        ((k, v) for k, v in flows.items() if v != [0, 0]),
        key=lambda kv: (kv[0][1], str(kv[0][0]), kv[0][2:]),
    )


# The reserve's running balances: per clinic, cohort and main specialization, and per
# clinic and cohort over every specialization (what the report of all of them reads).
BALANCES: dict[str, tuple[str, ...]] = {
    "funnel_balance": ("clinic", "cohort", "specialization"),
    "funnel_clinic_balance": ("clinic", "cohort"),
}
Balance = tuple[str, tuple]  # table, key (values of its BALANCES columns)


def _equal(columns: tuple[str, ...], alias: str = "", of: str = "") -> str:
    """`a = {} AND b = {} …` over a balance's key columns; with `of`, each equal to the
    same column of that table instead."""
    return " AND ".join(f'{alias}"{c}" = ' + (f'{of}."{c}"' if of else "{}") for c in columns)


def _open_months(table: str, rows: int) -> str:
    """A month of a key with no row yet starts from the balance of the key's row
    before it."""
    columns = BALANCES[table]
    carried = [
        f'COALESCE((SELECT b."{c}" FROM "{table}" b WHERE {_equal(columns, "b.")} '  # noqa: S608
        f'AND b."month" < {{}} ORDER BY b."month" DESC LIMIT 1), 0)'
        for c in ("amount", "count")
    ]
    row = f"({sql.marks(len(columns) + 1)}, {', '.join(carried)})"
    names = ", ".join(f'"{c}"' for c in columns)
    return (
        f'INSERT INTO "{table}" ({names}, "month", "amount", "count") '  # noqa: S608
        f"VALUES {', '.join(row for _ in range(rows))} "
        f'ON CONFLICT ({names}, "month") DO NOTHING'
    )


def _move(table: str, months: int) -> str:
    """Every row of the key from the first changed month on takes the movements dated
    up to its month; the rows before a new month learn where they now end."""
    columns = BALANCES[table]
    same = _equal(columns, "n.", of=f'"{table}"')
    dated = " + ".join(
        'CASE WHEN "month" >= {} THEN CAST({} AS BIGINT) ELSE 0 END' for _ in range(months)
    )
    return (
        f'UPDATE "{table}" SET "amount" = "amount" + ({dated}), '  # noqa: S608
        f'"count" = "count" + ({dated}), '
        f'"next_month" = COALESCE((SELECT MIN(n."month") FROM "{table}" n '
        f"WHERE {same} "
        f'AND n."month" > "{table}"."month"), \'9999-99\') '
        f'WHERE {_equal(columns)} AND "next_month" > {{}}'
    )


def _lock_id(balance: Balance) -> int:
    """A key's transaction lock (PostgreSQL's advisory locks take a signed 64-bit id)."""
    table, key = balance
    name = "|".join([table, *map(str, key)])
    digest = hashlib.blake2b(name.encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


async def _move_balances(changed: list[tuple[UUID, Key, int, int]]) -> None:
    """The reserve movements among `changed` added to the running balances (of their
    specialization, and of every specialization): to the row of their month (opened
    from the balance before it if new) and to every later row of their key, so that a
    late or back-dated fact moves every month after it.

    A key's rows are written under its transaction lock (PostgreSQL; SQLite has one
    writer): two recordings of one key queue, so neither opens a month from a balance
    the other is changing. Locks are taken in one order (by id), after the monthly
    sums' rows, as every recording does. On PostgreSQL the months are opened in one
    statement and moved in another, whatever the number of keys."""
    moves: dict[Balance, dict[str, list[int]]] = {}
    for clinic, (cohort, specialization, month, kind, _split, _reason), amount, count in changed:
        if kind != "reserve":
            continue
        for balance in (
            ("funnel_balance", (clinic, cohort, specialization)),
            ("funnel_clinic_balance", (clinic, cohort)),
        ):
            sums = moves.setdefault(balance, {}).setdefault(month, [0, 0])
            sums[0] += amount
            sums[1] += count
    # Every key moved has a month that changed (the clinic's too, even where two of its
    # specializations' movements cancel: it keeps a row at each such month, as the
    # filling from the monthly sums does).
    balances = sorted(moves, key=_lock_id)
    if not balances:
        return
    if is_postgres():
        await sql.run(
            "SELECT " + ", ".join("pg_advisory_xact_lock({})" for _ in balances),
            *(_lock_id(balance) for balance in balances),
        )
    opened: dict[str, list[list]] = {}
    for table, key in balances:
        for month in sorted(moves[table, key]):
            opened.setdefault(table, []).append([*key, month, *key, month, *key, month])
    await sql.run_together(
        [
            (_open_months(t, len(rows)), [a for row in rows for a in row])
            for t, rows in opened.items()
        ]
    )
    moving = []
    for table, key in balances:
        dated = sorted(moves[table, key].items())
        args = [a for month, (amount, _) in dated for a in (month, amount)]
        args += [a for month, (_, count) in dated for a in (month, count)]
        moving.append((_move(table, len(dated)), [*args, *key, dated[0][0]]))
    await sql.run_together(moving)


FUNNEL_KINDS = (
    "in",
    "transferred_in",
    "transferred_out",
    "accepted",
    "executed",
    "paid",
    "lost",
)


def _scope(
    clinic_ids: list[UUID] | None,
    specialization: str | None,
    table: type[FunnelFact] | type[FunnelMonth] = FunnelFact,
):
    """The rows of the given clinics (all: None; none: []) and main specialization."""
    where = table.id.is_not_null()
    if clinic_ids is not None:
        where &= table.clinic.is_in(clinic_ids or [UUID(int=0)])
    if specialization is not None:
        where &= table.specialization == specialization
    return where


async def flows(
    clinic_ids: list[UUID] | None,
    first: date,
    last: date,
    *,
    sent_from: date | None = None,
    specialization: str | None = None,
    kinds: tuple[str, ...] = FUNNEL_KINDS,
) -> list[FunnelSum]:
    """Sums of every flow dated in [first, last] by kind, split and reason; with
    `sent_from`, only referrals sent on or after it."""
    query = _summed(FunnelFact, FunnelFact.kind, FunnelFact.split, FunnelFact.reason).where(
        FunnelFact.kind.is_in(list(kinds))
        & (FunnelFact.day >= first)
        & (FunnelFact.day <= last)
        & _scope(clinic_ids, specialization)
    )
    if sent_from is not None:
        query = query.where(FunnelFact.sent_day >= sent_from)
    return _sums(
        await query.group_by(FunnelFact.kind, FunnelFact.split, FunnelFact.reason).run(
            node=reports_node()
        )
    )


async def reserve(
    clinic_ids: list[UUID] | None,
    last: date,
    *,
    first: date | None = None,
    specialization: str | None = None,
) -> list[FunnelSum]:
    """Reserve movements dated up to `last` (from `first`, if given), by cohort."""
    rows = await (
        _summed(FunnelFact, FunnelFact.cohort)
        .where(
            (FunnelFact.kind == "reserve")
            & (FunnelFact.day <= last)
            & (FunnelFact.day >= (first or date.min))
            & _scope(clinic_ids, specialization)
        )
        .group_by(FunnelFact.cohort)
        .run(node=reports_node())
    )
    return _sums(rows, kind="reserve")


def _summed(table: type[FunnelFact] | type[FunnelMonth], *keys):
    """A select of the money and counts of `table`, summed by `keys`."""
    return table.select(
        *keys, Sum(table.amount).as_alias("amount"), Sum(table.count).as_alias("count")
    )


def _sums(rows: list[dict[str, Any]], **keys: str) -> list[FunnelSum]:
    """Grouped sums as Structs (PostgreSQL sums big integers as decimals)."""
    return [
        typed(
            {**r, **keys, "amount": int(r["amount"] or 0), "count": int(r["count"] or 0)}, FunnelSum
        )
        for r in rows
    ]


_MONTH_SUMS = (
    'SELECT "month", "cohort", "kind", "split", "reason", SUM("amount") AS "amount", '
    'SUM("count") AS "count" FROM "{flows}" WHERE "kind" IN ({kinds}) '
    'AND "month" IN ({months}){scope} GROUP BY "month", "cohort", "kind", "split", "reason" '
    "UNION ALL "
    "SELECT '', \"cohort\", 'reserve', '', '', SUM(\"amount\"), SUM(\"count\") "
    'FROM "{balances}" WHERE "next_month" > {{}} AND "month" <= {{}} '
    'AND ("amount" <> 0 OR "count" <> 0){scope} GROUP BY "cohort"'
)


def _raw_scope(clinic_ids: list[UUID] | None, specialization: str | None) -> tuple[str, list]:
    """`_scope` for a statement written out: its condition and arguments."""
    where, args = "", []
    if clinic_ids is not None:
        ids = clinic_ids or [UUID(int=0)]
        where += f' AND "clinic" IN ({sql.marks(len(ids))})'
        args += ids
    if specialization is not None:
        where += ' AND "specialization" = {}'
        args.append(specialization)
    return where, args


async def month_sums(
    clinic_ids: list[UUID] | None,
    months: list[str],
    *,
    reserve_through: str,
    specialization: str | None = None,
) -> list[FunnelSum]:
    """In one statement, what a period's funnel needs: the flows of its whole months
    by month, cohort, kind, split and reason; and the reserve at the end of
    `reserve_through` by cohort (kind "reserve"), from the running balances: one row per
    clinic and cohort (funnel_clinic_balance; and specialization, if one is asked for:
    funnel_balance) still holding money or plans, however long the history.

    The flows of one month of every specialization come from their sums per clinic
    (funnel_month_flow: not per cohort and specialization too), whose cohort is '' for
    referrals sent before the month, which is all the report asks of it (plans sent in
    the period). Several months, or one specialization, come from the monthly sums by
    cohort, where a referral sent in the period's first month is told apart in its
    later months too."""
    statement, args = month_sums_query(clinic_ids, months, reserve_through, specialization)
    return _sums(await FunnelMonth.raw(statement, *args).run(node=reports_node()))


def month_sums_query(
    clinic_ids: list[UUID] | None,
    months: list[str],
    reserve_through: str,
    specialization: str | None = None,
) -> tuple[str, list]:
    """`month_sums`'s statement and its arguments."""
    months = months or ["-"]
    scope, scope_args = _raw_scope(clinic_ids, specialization)
    statement = _MONTH_SUMS.format(
        flows="funnel_month_flow"
        if len(months) == 1 and specialization is None
        else "funnel_month",
        balances="funnel_clinic_balance" if specialization is None else "funnel_balance",
        kinds=sql.marks(len(FUNNEL_KINDS)),
        months=sql.marks(len(months)),
        scope=scope,
    )
    args = [*FUNNEL_KINDS, *months, *scope_args, reserve_through, reserve_through, *scope_args]
    return statement, args


async def month_sums_from_movements(
    clinic_ids: list[UUID] | None,
    months: list[str],
    *,
    reserve_through: str,
    specialization: str | None = None,
) -> list[FunnelSum]:
    """`month_sums` with the reserve summed from the movements of every month up to
    `reserve_through` (what the balances replace, and are checked against: the
    differential tests and bench.funnel_report)."""
    flows = FunnelMonth.kind.is_in(list(FUNNEL_KINDS)) & FunnelMonth.month.is_in(months or ["-"])
    reserve = (FunnelMonth.kind == "reserve") & (FunnelMonth.month <= reserve_through)
    keys = [
        FunnelMonth.month,
        FunnelMonth.cohort,
        FunnelMonth.kind,
        FunnelMonth.split,
        FunnelMonth.reason,
    ]
    rows = await (
        _summed(FunnelMonth, *keys)
        .where((flows | reserve) & _scope(clinic_ids, specialization, FunnelMonth))
        .group_by(*keys)
        .run(node=reports_node())
    )
    return _sums(rows)


def _columns(names: tuple[str, ...]) -> list:
    allowed = {
        "specialization": FunnelMonth.specialization,
        "split": FunnelMonth.split,
        "reason": FunnelMonth.reason,
    }
    return [allowed[n] for n in names]


async def cohort_sums(
    clinic_ids: list[UUID] | None,
    first_cohort: str,
    last_cohort: str,
    *,
    specialization: str | None = None,
    kinds: tuple[str, ...] = ("in", "executed"),
    by: tuple[str, ...] = (),
) -> list[FunnelSum]:
    """Sums of the referrals sent in each cohort month, by month and kind (and the
    columns named in `by`: specialization, split, reason)."""
    keys = [FunnelMonth.cohort, FunnelMonth.month, FunnelMonth.kind, *_columns(by)]
    rows = await (
        _summed(FunnelMonth, *keys)
        .where(
            FunnelMonth.kind.is_in(list(kinds))
            & (FunnelMonth.cohort >= first_cohort)
            & (FunnelMonth.cohort <= last_cohort)
            & _scope(clinic_ids, specialization, FunnelMonth)
        )
        .group_by(*keys)
        .run(node=reports_node())
    )
    return _sums(rows)


async def month_totals(
    clinic_ids: list[UUID] | None,
    months: list[str],
    *,
    specialization: str | None = None,
    kinds: tuple[str, ...] = ("in", "executed", "lost"),
    by: tuple[str, ...] = (),
) -> list[FunnelSum]:
    """Sums (money and counts) of the given kinds in each of the given months (and the
    columns named in `by`: specialization, split)."""
    keys = [FunnelMonth.month, FunnelMonth.kind, *_columns(by)]
    rows = await (
        _summed(FunnelMonth, *keys)
        .where(
            FunnelMonth.kind.is_in(list(kinds))
            & FunnelMonth.month.is_in(months)
            & _scope(clinic_ids, specialization, FunnelMonth)
        )
        .group_by(*keys)
        .run(node=reports_node())
    )
    return _sums(rows)


REASON_KINDS = ("lost", "revision")


async def reason_sums(
    clinic_ids: list[UUID] | None,
    first: date,
    last: date,
    months: list[str],
    *,
    specialization: str | None = None,
) -> list[FunnelSum]:
    """Lost money and plan revisions by clinic and reason: the whole `months` from the
    monthly sums, the days of [first, last] outside them from the facts."""
    whole = await (
        _summed(FunnelMonth, FunnelMonth.clinic, FunnelMonth.kind, FunnelMonth.reason)
        .where(
            FunnelMonth.kind.is_in(list(REASON_KINDS))
            & FunnelMonth.month.is_in(months or ["-"])
            & _scope(clinic_ids, specialization, FunnelMonth)
        )
        .group_by(FunnelMonth.clinic, FunnelMonth.kind, FunnelMonth.reason)
        .run(node=reports_node())
    )
    outside = FunnelFact.month.not_in(months) if months else FunnelFact.id.is_not_null()
    days = await (
        _summed(FunnelFact, FunnelFact.clinic, FunnelFact.kind, FunnelFact.reason)
        .where(
            FunnelFact.kind.is_in(list(REASON_KINDS))
            & (FunnelFact.day >= first)
            & (FunnelFact.day <= last)
            & outside
            & _scope(clinic_ids, specialization)
        )
        .group_by(FunnelFact.clinic, FunnelFact.kind, FunnelFact.reason)
        .run(node=reports_node())
    )
    return _sums([*whole, *days])


async def health_observations(kinds: list[str], months: list[str]) -> list[HealthFact]:
    """Per-referral facts of `kinds` in `months` with the patient as an opaque key: the
    health department's aggregates (backend.services.health_stats) count from these."""
    rows = await (
        FunnelFact.select(
            FunnelFact.month,
            FunnelFact.clinic,
            FunnelFact.specialization,
            FunnelFact.kind,
            FunnelFact.amount,
            FunnelFact.referral.patient.as_alias("patient"),
        )
        .where(FunnelFact.kind.is_in(kinds) & FunnelFact.month.is_in(months))
        .run(node=reports_node())
    )
    return [typed(r, HealthFact) for r in rows]

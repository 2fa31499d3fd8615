"""The patient's change feed: what the app shows that changed, in the patient's own
order (patient.change_seq, raised under the patient's row lock, so the numbers follow
commit order and a cursor never skips a change that committed late)."""

from datetime import datetime
from uuid import UUID

import msgspec

from backend.store import sql
from backend.store.engine import is_postgres

Change = tuple[str, UUID, UUID]  # kind, object id, referral id

_NOTE_IN_ONE = (
    "WITH s AS (UPDATE patient SET change_seq = change_seq + 1 WHERE id = {{}} "
    "RETURNING change_seq) INSERT INTO patient_change "
    "(patient, seq, kind, object_id, referral, at) "
    "SELECT {{}}, s.change_seq, v.kind, v.object_id, v.referral, {{}} "
    "FROM s, (VALUES {values}) AS v (kind, object_id, referral) RETURNING seq"
)


class ChangeRow(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    object_id: UUID
    referral: UUID
    version: int  # the patient's change number at which it last changed


async def note(patient_id: UUID, changes: list[Change], now: datetime) -> int | None:
    """Record changes in the caller's transaction, under one new change number (which
    it returns; None when there is nothing to note or no such patient)."""
    if not changes:
        return None
    noted = list(dict.fromkeys(changes))
    if is_postgres():  # the number and the rows in one round trip
        values = ", ".join("({}::varchar, {}::uuid, {}::uuid)" for _ in noted)
        rows = await sql.run(
            _NOTE_IN_ONE.format(values=values),
            patient_id,
            patient_id,
            now,
            *(x for change in noted for x in change),
        )
        return rows[0]["seq"] if rows else None
    rows = await sql.run(
        "UPDATE patient SET change_seq = change_seq + 1 WHERE id = {} RETURNING change_seq",
        patient_id,
    )
    if not rows:
        return None
    seq = rows[0]["change_seq"]
    args: list[object] = []
    for kind, object_id, referral_id in noted:
        args += [patient_id, seq, kind, object_id, referral_id, now]
    columns = ("patient", "seq", "kind", "object_id", "referral", "at")
    await sql.run(sql.insert("patient_change", columns, len(noted)), *args)
    return seq


async def since(
    patient_id: UUID, cursor: int, limit: int, *, through: int | None = None
) -> list[ChangeRow]:
    """Each object changed after `cursor` (and up to `through`), once, at its last
    change, oldest first; at most `limit` unless `through` bounds the page."""
    rows = await sql.run(
        "SELECT kind, object_id, referral, MAX(seq) AS version FROM patient_change "
        "WHERE patient = {} AND seq > {} AND seq <= {} GROUP BY kind, object_id, referral "
        "ORDER BY version, kind, object_id LIMIT {}",
        patient_id,
        cursor,
        through if through is not None else 2**62,
        limit if through is None else 2**31,
    )
    return [msgspec.convert(r, ChangeRow, strict=False) for r in rows]


async def latest(patient_id: UUID) -> int:
    rows = await sql.run("SELECT change_seq FROM patient WHERE id = {}", patient_id)
    return rows[0]["change_seq"] if rows else 0

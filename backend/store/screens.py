"""Stored plan screens (backend.services.screens): read together with what they were
built from and what that is now, saved after a build, outdated all at once by raising
the epoch. Plain SQL: a screen read is the patient API's hottest statement."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from backend.store import sql
from backend.store.coalesce import Coalesced
from backend.store.tables import ReferralScreen

_READ = (
    "SELECT r.id AS referral, r.sent_at, p.change_seq AS seq, "
    "COALESCE((SELECT epoch FROM screen_epoch WHERE id = 1), 0) AS epoch, "
    "s.built_seq, s.epoch AS built_epoch, s.format, s.valid_until, s.screen, s.summary "
    "FROM referral r JOIN patient p ON p.id = r.patient "
    "LEFT JOIN referral_screen s ON s.referral = r.id "
)
_COLUMNS = (
    "referral",
    "patient",
    "built_seq",
    "epoch",
    "format",
    "valid_until",
    "screen",
    "summary",
)
_SAVE = (
    sql.insert("referral_screen", _COLUMNS, 1)
    + " ON CONFLICT (referral) DO UPDATE SET "
    + sql.excluded(_COLUMNS[1:])
    # A slower build of older state never overwrites a newer one.
    + " WHERE referral_screen.built_seq <= excluded.built_seq"
    + " AND referral_screen.epoch <= excluded.epoch"
)


class StoredScreen(msgspec.Struct, frozen=True, kw_only=True):
    """A referral of the patient's, its stored screen (None fields: never built), what
    the screen was built from, and the patient's change number and epoch now."""

    referral: UUID
    sent_at: datetime
    seq: int
    epoch: int
    built_seq: int | None = None
    built_epoch: int | None = None
    format: int | None = None
    valid_until: datetime | None = None
    screen: bytes | None = None
    summary: bytes | None = None


def _rows(rows: list[dict]) -> list[StoredScreen]:
    return [msgspec.convert(r, StoredScreen, strict=False) for r in rows]


_ONE = "WHERE r.id = {} AND r.patient = {} AND r.archived_at IS NULL"
# With the sign-in check (backend.store.sessions.family_live) in the same statement: the
# session's counts always make one row, the screen joins it when there is one.
_ONE_SIGNED = (
    'SELECT k."issued", k."revoked", x.* FROM (SELECT COUNT(*) AS "issued", '  # noqa: S608
    'COUNT("revoked_at") AS "revoked" FROM "patient_session" '
    'WHERE "family" = {} AND "patient" = {}) AS k '
    f"LEFT JOIN ({_READ}{_ONE}) AS x ON 1 = 1"
)


async def one(patient_id: UUID, referral_id: UUID) -> StoredScreen | None:
    """The patient's referral (None when it is not theirs or archived) with its screen."""
    rows = await ReferralScreen.raw(_READ + _ONE, referral_id, patient_id)
    return _rows(rows)[0] if rows else None


# The same for many reads at once (PostgreSQL): each (family, patient, referral) of the
# arrays makes one row, numbered by its place. The session's counts are an aggregate, so
# they too are looked up for each key.
_MANY_SIGNED = (
    'SELECT q.i, k."issued", k."revoked", x.* '  # noqa: S608
    "FROM unnest({}::uuid[], {}::uuid[], {}::uuid[]) WITH ORDINALITY "
    "AS q(family, patient, referral, i) "
    'CROSS JOIN LATERAL (SELECT COUNT(*) AS "issued", COUNT("revoked_at") AS "revoked" '
    'FROM "patient_session" WHERE "family" = q.family AND "patient" = q.patient) AS k '
    f"LEFT JOIN LATERAL ({_READ}"
    # LIMIT 1 (an id finds one row anyway) keeps the subquery apart, looked up by index
    # for each key: one plan whatever the count, as it is planned once (store.engine).
    "WHERE r.id = q.referral AND r.patient = q.patient AND r.archived_at IS NULL LIMIT 1) "
    "AS x ON true"
)

Signed = tuple[UUID, UUID, UUID]  # (session family, patient, referral)


async def _many_signed(keys: Sequence[Signed]) -> list[Mapping[str, Any]]:
    pool = sql.read_pool()
    assert pool is not None, "read by one_signed on PostgreSQL only"
    columns = [[key[n] for key in keys] for n in range(3)]
    rows = await sql.fetch_pooled(pool, _MANY_SIGNED, *columns)
    by_place = {row["i"]: row for row in rows}
    return [by_place[i] for i in range(1, len(keys) + 1)]


_signed_reads = Coalesced(_many_signed)


async def one_signed(
    family: UUID, patient_id: UUID, referral_id: UUID
) -> tuple[bool, StoredScreen | None]:
    """Whether the session `family` was issued to the patient and is live, and their
    referral with its screen as `one` reads it: one statement for a whole screen read
    (on PostgreSQL shared with the reads that arrive meanwhile: store.coalesce)."""
    if sql.read_pool() is not None:
        found = await _signed_reads((family, patient_id, referral_id))
    else:
        found = await sql.fetch_one(_ONE_SIGNED, family, patient_id, referral_id, patient_id)
    row = dict(found or {})  # the session's counts always make one row
    live = row["issued"] > 0 and row["revoked"] == 0
    if row["referral"] is None:
        return live, None
    return live, msgspec.convert(row, StoredScreen, strict=False)


async def page(
    patient_id: UUID, *, limit: int, before: tuple[datetime, UUID] | None
) -> list[StoredScreen]:
    """The patient's referrals, newest first (keyset on sent_at, id), with their screens."""
    where, args = "WHERE r.patient = {} AND r.archived_at IS NULL", [patient_id]
    if before is not None:
        where += " AND (r.sent_at < {} OR (r.sent_at = {} AND r.id < {}))"
        args += [before[0], before[0], before[1]]
    rows = await ReferralScreen.raw(
        _READ + where + " ORDER BY r.sent_at DESC, r.id DESC LIMIT {}", *args, limit
    )
    return _rows(rows)


async def save(
    *,
    referral_id: UUID,
    patient_id: UUID,
    built_seq: int,
    epoch: int,
    format: int,
    valid_until: datetime | None,
    screen: bytes,
    summary: bytes,
) -> None:
    await ReferralScreen.raw(
        _SAVE, referral_id, patient_id, built_seq, epoch, format, valid_until, screen, summary
    )


async def outdate_all() -> None:
    """Every stored screen is built again before it is next served (a clinic, its
    settings or norms changed: what they show is in many screens)."""
    await ReferralScreen.raw(
        "INSERT INTO screen_epoch (id, epoch) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET epoch = screen_epoch.epoch + 1"
    )


async def forget(patient_id: UUID) -> None:
    """Erasure: the patient's stored screens emptied (they are built again if needed)."""
    await ReferralScreen.raw(
        "UPDATE referral_screen SET screen = NULL, summary = NULL WHERE patient = {}", patient_id
    )

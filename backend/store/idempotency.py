"""Idempotency keys of patients' POSTs: claim a key, keep the answer, read it back."""

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

from backend.runtime.ids import new_id
from backend.store import sql
from backend.store.tables import IdempotencyKey

State = Literal["running", "done", "released"]


class KeyRow(msgspec.Struct, frozen=True, kw_only=True):
    state: State
    fingerprint: str
    lease_until: datetime
    status: int | None
    content_type: str
    body: str | None


async def claim(
    *,
    patient_id: UUID,
    key: str,
    fingerprint: str,
    now: datetime,
    lease_until: datetime,
    expired_before: datetime,
) -> bool:
    """Take the key for a request, in one statement (two processes with the same key:
    one wins): a new key; one past its 24 hours, whatever it was for; or one for this
    same request whose first try ended without an answer (released) or whose lease ran
    out (its process died). False: the key is someone else's for now; read it."""
    rows = await sql.run(
        """
        INSERT INTO "idempotency_key"
            ("id", "patient", "key", "fingerprint", "state", "created_at", "lease_until",
             "content_type")
        VALUES ({}, {}, {}, {}, 'running', {}, {}, '')
        ON CONFLICT ("patient", "key") DO UPDATE SET
            "fingerprint" = excluded."fingerprint",
            "state" = 'running',
            "created_at" = excluded."created_at",
            "lease_until" = excluded."lease_until",
            "status" = NULL,
            "content_type" = '',
            "body" = NULL,
            "finished_at" = NULL
        WHERE "idempotency_key"."created_at" <= {}
           OR ("idempotency_key"."fingerprint" = excluded."fingerprint"
               AND ("idempotency_key"."state" = 'released'
                    OR ("idempotency_key"."state" = 'running'
                        AND "idempotency_key"."lease_until" <= {})))
        RETURNING "id"
        """,
        new_id(),
        patient_id,
        key,
        fingerprint,
        now,
        lease_until,
        expired_before,
        now,
    )
    return bool(rows)


async def one(patient_id: UUID, key: str) -> KeyRow | None:
    row = (
        await IdempotencyKey.select(
            IdempotencyKey.state,
            IdempotencyKey.fingerprint,
            IdempotencyKey.lease_until,
            IdempotencyKey.status,
            IdempotencyKey.content_type,
            IdempotencyKey.body,
        )
        .where((IdempotencyKey.patient == patient_id) & (IdempotencyKey.key == key))
        .first()
    )
    return msgspec.convert(row, KeyRow) if row else None


async def keep(
    patient_id: UUID, key: str, *, status: int, content_type: str, body: str, now: datetime
) -> None:
    """The answer of a claimed key, for its retries."""
    await sql.run(
        'UPDATE "idempotency_key" SET "state" = \'done\', "status" = {}, "content_type" = {}, '
        '"body" = {}, "finished_at" = {} '
        'WHERE "patient" = {} AND "key" = {} AND "state" = \'running\'',
        status,
        content_type,
        body,
        now,
        patient_id,
        key,
    )


async def release(patient_id: UUID, key: str) -> None:
    """The claimed key's request ended without an answer to keep: a retry runs it again."""
    await sql.run(
        'UPDATE "idempotency_key" SET "state" = \'released\' '
        'WHERE "patient" = {} AND "key" = {} AND "state" = \'running\'',
        patient_id,
        key,
    )


async def delete_created_before(before: datetime) -> int:
    """Forget keys claimed before `before` (the worker's sweep; never a request)."""
    rows = await IdempotencyKey.raw(
        'DELETE FROM "idempotency_key" WHERE "created_at" <= {} RETURNING "id"', before
    )
    return len(rows)

"""Safe retries of a patient's POST: the first answer to an Idempotency-Key is kept for
24 hours and given again to a repeat of the same request; the same key with another
request is refused, and so is a repeat while the first is still being answered.

What is kept: a SHA-256 of the request (method, path and query, body as canonical JSON)
and the answer (status, content type, body). Never the request body: a patient's notes
are not copied here. Answers of patient POSTs carry ids, steps and amounts, no free
text. Rows older than 24 hours are deleted by the worker (`sweep`), never by a request:
they record requests, not the patient's treatment, which stays in the ledger."""

import hashlib
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from backend.services.errors import Conflict, Invalid
from backend.store import idempotency as keys

KEEP_FOR = timedelta(hours=24)
# How long a claimed key waits for its answer before a retry may run the request again
# (the process that took it may have died). Longer than any patient POST takes.
LEASE = timedelta(seconds=60)


class Answer(msgspec.Struct, frozen=True):
    status: int
    content_type: str
    body: bytes


class KeyReused(Invalid):
    """The key was sent before with another request."""


class StillRunning(Conflict):
    def __init__(self, detail: str, retry_after: int, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """The request as one hash: a JSON body in canonical form (keys sorted, no spacing),
    so that the same request serialised another way is still the same request; any
    other body as its bytes."""
    try:
        canonical = msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except msgspec.DecodeError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode()):
        digest.update(part + b"\n")
    digest.update(canonical)
    return digest.hexdigest()


async def begin(patient_id: UUID, key: str, request_hash: str, now: datetime) -> Answer | None:
    """None: the key is this request's, go ahead and answer it (then `finish`). An
    Answer: the request was answered before; give that answer again."""
    claimed = await keys.claim(
        patient_id=patient_id,
        key=key,
        fingerprint=request_hash,
        now=now,
        lease_until=now + LEASE,
        expired_before=now - KEEP_FOR,
    )
    if claimed:
        return None
    row = await keys.one(patient_id, key)
    if row is not None and row.fingerprint != request_hash:
        raise KeyReused(
            f"Idempotency-Key {key!r} was already used for another request in the last "
            "24 hours; send a new key for a new request",
            idempotency_key=key,
        )
    if row is not None and row.state == "done" and row.status is not None:
        return Answer(row.status, row.content_type, (row.body or "").encode())
    wait = max(1, int(((row.lease_until if row else now) - now).total_seconds()) + 1)
    raise StillRunning(
        f"a request with Idempotency-Key {key!r} is still being answered; "
        "send it again in a moment to get its answer",
        retry_after=wait,
        idempotency_key=key,
    )


async def finish(patient_id: UUID, key: str, answer: Answer | None, now: datetime) -> None:
    """Keep the answer of a request `begin` let through, or (None: it ended without an
    answer worth keeping, e.g. a server error) let a retry run it again."""
    if answer is None:
        await keys.release(patient_id, key)
        return
    await keys.keep(
        patient_id,
        key,
        status=answer.status,
        content_type=answer.content_type,
        body=answer.body.decode(),
        now=now,
    )


async def sweep(now: datetime) -> int:
    """Delete the keys past their 24 hours (the worker, about once an hour)."""
    return await keys.delete_created_before(now - KEEP_FOR)

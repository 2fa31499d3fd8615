"""Restatements: after a settings or norms change (backend.services.clinic_settings
requests one), the worker re-folds the referrals it touches, a chunk per outbox message
(topic RESTATE), each referral in its own transaction."""

import logging
from datetime import datetime
from uuid import UUID

from backend.services.clinic_settings import RESTATE
from backend.services.recording import refold_one
from backend.store import clinic_settings as store
from backend.store import outbox
from backend.store.engine import write_transaction

log = logging.getLogger("plantrack.settings")

CHUNK = 200


async def run_restatement(restatement_id: UUID, *, now: datetime, chunk: int = CHUNK) -> bool:
    """Re-fold the next chunk of a restatement's referrals; True when it has finished.
    Each referral in its own transaction, as `plantrack refold` does; a chunk repeated
    after a crash re-folds a few referrals twice, which changes nothing."""
    row = await store.restatement(restatement_id)
    if row is None or row.finished_at is not None:
        return True
    ids = await store.next_referrals(row.scope, row.last_referral, chunk)
    for referral_id in ids:
        await refold_one(referral_id, now)
    done = row.done + len(ids)
    finished = len(ids) < chunk
    async with write_transaction():
        await store.advance(
            restatement_id,
            last=ids[-1] if ids else row.last_referral,
            done=done,
            total=row.total,
            finished_at=now if finished else None,
        )
        if not finished:
            await outbox.enqueue(
                topic=RESTATE,
                payload={"restatement_id": str(restatement_id)},
                dedupe_key=f"restate:{restatement_id}:{done}",
                now=now,
            )
    log.info(
        "restating reports",
        extra={
            "fields": {
                "restatement_id": str(restatement_id),
                "scope": row.scope,
                "done": done,
                "total": row.total,
                "finished": finished,
            }
        },
    )
    return finished

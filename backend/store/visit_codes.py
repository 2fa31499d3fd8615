"""One-time visit codes, stored as HMACs."""

from datetime import datetime
from uuid import UUID

from backend.store.rows import VisitCodeRow, typed
from backend.store.tables import VisitCode


async def insert(
    *,
    code_id: UUID,
    referral_id: UUID,
    code_hash: str,
    created_by: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await VisitCode.insert(
        VisitCode(
            id=code_id,
            referral=referral_id,
            code_hash=code_hash,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def live_for(referral_id: UUID, now: datetime) -> list[VisitCodeRow]:
    rows = await VisitCode.select().where(
        (VisitCode.referral == referral_id)
        & VisitCode.used_at.is_null()
        & (VisitCode.expires_at > now)
    )
    return [typed(r, VisitCodeRow) for r in rows]


async def use(code_id: UUID, now: datetime) -> bool:
    rows = await VisitCode.raw(
        'UPDATE "visit_code" SET "used_at" = {} WHERE "id" = {} AND "used_at" IS NULL '
        'RETURNING "id"',
        now,
        code_id,
    )
    return bool(rows)

"""Media rows: before/after pictures of a referral (the bytes live in a MediaFiles store)."""

from datetime import datetime
from uuid import UUID

from backend.store.rows import MediaRow, typed
from backend.store.tables import Media


async def insert(
    *,
    media_id: UUID,
    referral_id: UUID,
    kind: str,
    phase: str,
    tooth: int | None,
    caption: str,
    storage_key: str,
    content_type: str,
    size_bytes: int,
    sha256: str,
    now: datetime,
    uploaded_by: str = "",
) -> None:
    await Media.insert(
        Media(
            id=media_id,
            referral=referral_id,
            kind=kind,
            phase=phase,
            tooth=tooth,
            caption=caption,
            storage_key=storage_key,
            content_type=content_type,
            size_bytes=size_bytes,
            sha256=sha256,
            created_at=now,
            uploaded_by=uploaded_by,
        )
    )


async def of_referral(referral_id: UUID) -> list[MediaRow]:
    """A referral's pictures, not archived, oldest first."""
    rows = (
        await Media.select()
        .where((Media.referral == referral_id) & Media.archived_at.is_null())
        .order_by(Media.created_at)
    )
    return [typed(r, MediaRow) for r in rows]


async def get(media_id: UUID) -> MediaRow | None:
    row = await Media.select().where(Media.id == media_id).first()
    return None if row is None else typed(row, MediaRow)

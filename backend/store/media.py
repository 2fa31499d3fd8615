"""Media rows: before/after pictures of a referral (the bytes live in a MediaFiles store)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from backend.store.rows import MediaRow, PictureSize, typed
from backend.store.tables import Media


def _sizes_json(sizes: Sequence[PictureSize]) -> str:
    return msgspec.json.encode(list(sizes)).decode()


def decoded(row: dict[str, Any]) -> MediaRow:
    """A row as its Struct; the sizes' JSON read as SQLite's text or PostgreSQL's."""
    sizes = row.get("sizes")
    if isinstance(sizes, str | bytes):
        row = {**row, "sizes": msgspec.json.decode(sizes or b"[]")}
    return typed(row, MediaRow)


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
    width: int | None = None,
    height: int | None = None,
    sizes: Sequence[PictureSize] = (),
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
            width=width,
            height=height,
            sizes=_sizes_json(sizes),
        )
    )


async def of_referral(referral_id: UUID) -> list[MediaRow]:
    """A referral's pictures, not archived, oldest first."""
    rows = (
        await Media.select()
        .where((Media.referral == referral_id) & Media.archived_at.is_null())
        .order_by(Media.created_at)
    )
    return [decoded(r) for r in rows]


async def get(media_id: UUID) -> MediaRow | None:
    row = await Media.select().where(Media.id == media_id).first()
    return None if row is None else decoded(row)


async def without_sizes(limit: int) -> list[MediaRow]:
    """Pictures still served to the app without their smaller copies (stored before
    sizes), not archived, oldest first."""
    rows = (
        await Media.select()
        .where(Media.archived_at.is_null() & Media.width.is_null())
        .order_by(Media.created_at)
        .limit(limit)
    )
    return [decoded(r) for r in rows]


async def set_sizes(
    media_id: UUID, *, width: int, height: int, sizes: Sequence[PictureSize]
) -> bool:
    """Record a picture's sizes; False when it was archived (erased) meanwhile, so the
    caller removes the copies it made."""
    done = (
        await Media.update(
            {Media.width: width, Media.height: height, Media.sizes: _sizes_json(sizes)}
        )
        .where((Media.id == media_id) & Media.archived_at.is_null())
        .returning(Media.id)
    )
    return bool(done)

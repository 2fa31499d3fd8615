"""Attaching before/after pictures to a referral: checked, stripped of metadata, stored with
the smaller copies a phone shows (a thumbnail and a screen size, WebP and JPEG), and the
short-lived links to each."""

import asyncio
import hashlib
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import msgspec

from backend.domain.teeth import is_valid_tooth
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.runtime.media_files import ORIGINAL, MediaFiles
from backend.services import changes
from backend.services.errors import Invalid, NotFound
from backend.services.picture_formats import COPY_FORMATS, Copy
from backend.store import media, referrals
from backend.store.engine import write_transaction
from backend.store.rows import MediaRow, PictureSize

KINDS = ("xray", "photo", "scan")
PHASES = ("before", "after", "progress")


def _copy_key(original_key: str, copy: Copy) -> str:
    stem = original_key.rsplit(".", 1)[0]
    return f"{stem}.{copy.name}.{COPY_FORMATS[copy.format][2]}"


async def _store_copies(
    files: MediaFiles, original_key: str, copies: list[Copy]
) -> list[PictureSize]:
    sizes = []
    for c in copies:
        key = _copy_key(original_key, c)
        await files.put(key, c.data, COPY_FORMATS[c.format][1])
        sizes.append(
            PictureSize(
                name=c.name,
                format=c.format,
                key=key,
                width=c.width,
                height=c.height,
                size_bytes=len(c.data),
            )
        )
    return sizes


async def attach_media(
    files: MediaFiles,
    *,
    referral_id: UUID,
    data: bytes,
    kind: str,
    phase: str,
    tooth: int | None = None,
    caption: str = "",
    uploaded_by: str = "",
    now: datetime | None = None,
) -> UUID:
    """Store a picture of a referral: tied to a tooth (FDI) or, without one, the whole
    mouth, and to a phase (before, after, progress)."""
    now = now or utcnow()
    if kind not in KINDS or phase not in PHASES:
        raise Invalid(f"kind must be one of {KINDS}, phase one of {PHASES}")
    if tooth is not None and not is_valid_tooth(tooth):
        raise Invalid(f"tooth: {tooth} is not an FDI tooth number")
    if len(caption) > 300:
        raise Invalid("caption: at most 300 characters")
    referral = await referrals.get(referral_id)
    if referral is None:
        raise NotFound("no such referral")
    # Pillow is imported on the first picture: most web workers never take one.
    from backend.services.picture_copies import prepare

    ready = await asyncio.to_thread(prepare, data)
    media_id = new_id()
    key = f"{referral_id}/{media_id}.{ready.extension}"
    sizes = await _store_copies(files, key, ready.copies)
    await files.put(key, ready.data, ready.content_type)
    async with write_transaction():
        await media.insert(
            media_id=media_id,
            referral_id=referral_id,
            kind=kind,
            phase=phase,
            tooth=tooth,
            caption=caption,
            storage_key=key,
            content_type=ready.content_type,
            size_bytes=len(ready.data),
            sha256=hashlib.sha256(ready.data).hexdigest(),
            uploaded_by=uploaded_by,
            width=ready.width,
            height=ready.height,
            sizes=sizes,
            now=now,
        )
        await changes.note(referral.patient, [(changes.PICTURE, media_id, referral_id)], now)
    return media_id


async def add_missing_sizes(
    files: MediaFiles, *, batch: int = 50, progress: Callable[[int], None] | None = None
) -> int:
    """Give the pictures stored before sizes their copies (`plantrack media-sizes`); how
    many were done. Safe to run again, and beside the service: a picture erased meanwhile
    loses the copies made for it."""
    from backend.services.picture_copies import decode, make_copies  # Pillow: see attach_media

    done = 0
    while rows := await media.without_sizes(batch):
        for row in rows:
            image, _ = await asyncio.to_thread(decode, await files.get(row.storage_key))
            copies = await asyncio.to_thread(make_copies, image)
            sizes = await _store_copies(files, row.storage_key, copies)
            if not await media.set_sizes(
                row.id, width=image.width, height=image.height, sizes=sizes
            ):
                for size in sizes:
                    await files.delete(size.key)
            done += 1
            if progress is not None:
                progress(done)
    return done


# --- links -----------------------------------------------------------------------------


class SizeLinks(msgspec.Struct, frozen=True, kw_only=True):
    """One size of a picture: its pixels (None: not known for a picture stored before
    sizes) and its links, WebP first and JPEG as the fallback."""

    width: int | None
    height: int | None
    url: str
    content_type: str
    fallback_url: str | None = None
    fallback_content_type: str | None = None


class PictureLinks(msgspec.Struct, frozen=True, kw_only=True):
    original: SizeLinks
    thumb: SizeLinks
    screen: SizeLinks
    expires_at: datetime


async def picture_links(files: MediaFiles, row: MediaRow, now: datetime) -> PictureLinks:
    """Fresh links to every size of a picture. A picture stored before sizes offers its
    original for each until `plantrack media-sizes` has run."""
    url, expires_at = await files.link(row.storage_key, media_id=row.id, variant=ORIGINAL, now=now)
    original = SizeLinks(width=row.width, height=row.height, url=url, content_type=row.content_type)
    found: dict[str, dict[str, tuple[PictureSize, str]]] = {}
    for size in row.sizes:
        link, _ = await files.link(
            size.key, media_id=row.id, variant=f"{size.name}.{size.format}", now=now
        )
        found.setdefault(size.name, {})[size.format] = (size, link)

    def sized(name: str) -> SizeLinks:
        by_format = found.get(name)
        if not by_format:
            return original
        first, *rest = [by_format[f] for f in COPY_FORMATS if f in by_format]
        fallback = rest[0] if rest else None
        return SizeLinks(
            width=first[0].width,
            height=first[0].height,
            url=first[1],
            content_type=COPY_FORMATS[first[0].format][1],
            fallback_url=fallback[1] if fallback else None,
            fallback_content_type=COPY_FORMATS[fallback[0].format][1] if fallback else None,
        )

    return PictureLinks(
        original=original, thumb=sized("thumb"), screen=sized("screen"), expires_at=expires_at
    )


def served_key(row: MediaRow, variant: str) -> tuple[str, str] | None:
    """(key, content type) of one variant of a picture, for the app's /media route."""
    if variant == ORIGINAL:
        return row.storage_key, row.content_type
    for size in row.sizes:
        if f"{size.name}.{size.format}" == variant:
            return size.key, COPY_FORMATS[size.format][1]
    return None


def all_keys(row: MediaRow) -> list[str]:
    return [row.storage_key, *(size.key for size in row.sizes)]

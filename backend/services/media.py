"""Attaching before/after pictures to a referral: checked, stripped of metadata, stored."""

import hashlib
import io
from datetime import datetime
from uuid import UUID

from PIL import Image, UnidentifiedImageError

from backend.domain.teeth import is_valid_tooth
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.runtime.media_files import MediaFiles
from backend.services import changes
from backend.services.errors import Invalid, NotFound
from backend.store import media, referrals
from backend.store.engine import write_transaction

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 8000 * 8000
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
KINDS = ("xray", "photo", "scan")
PHASES = ("before", "after", "progress")


def clean_image(data: bytes) -> tuple[bytes, str, str]:
    """Re-encode the picture: a photo's EXIF can hold GPS position and device ids, which
    have no business in a patient's record. Returns (bytes, content type, extension)."""
    if len(data) > MAX_BYTES:
        raise Invalid(f"the picture is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            if kind not in FORMATS:
                raise Invalid("only JPEG, PNG and WebP pictures are accepted")
            if probe.width * probe.height > MAX_PIXELS:
                raise Invalid("the picture is too large")
            probe.load()
            image = probe.copy()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise Invalid("this is not a readable picture") from exc
    out = io.BytesIO()
    save = {"JPEG": {"quality": 90}, "WEBP": {"quality": 90}, "PNG": {"optimize": True}}[kind]
    image.save(out, format=kind, **save)
    content_type, extension = FORMATS[kind]
    return out.getvalue(), content_type, extension


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
    cleaned, content_type, extension = clean_image(data)
    media_id = new_id()
    key = f"{referral_id}/{media_id}.{extension}"
    files.put(key, cleaned)
    async with write_transaction():
        await media.insert(
            media_id=media_id,
            referral_id=referral_id,
            kind=kind,
            phase=phase,
            tooth=tooth,
            caption=caption,
            storage_key=key,
            content_type=content_type,
            size_bytes=len(cleaned),
            sha256=hashlib.sha256(cleaned).hexdigest(),
            uploaded_by=uploaded_by,
            now=now,
        )
        await changes.note(referral.patient, [(changes.PICTURE, media_id, referral_id)], now)
    return media_id

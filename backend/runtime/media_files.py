"""Where picture bytes live, behind a small interface: the local file system by default, or
an S3-compatible object store (PLANTRACK_MEDIA_URL=s3://bucket/prefix).

Files are reached only through short-lived links. Local files: our signed URLs
(`/media/{id}?v=…&exp=…&sig=…`), served by the app. The object store: its own presigned
GET URLs, so the app downloads straight from the store and the service moves no picture
bytes. Either way an image loader needs no Authorization header and a leaked URL soon
stops working.
"""

import asyncio
import contextlib
import hashlib
import hmac
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit
from uuid import UUID

from backend.settings import Settings

URL_TTL = timedelta(minutes=10)
# Objects never change (a key is a picture's id and size), but their links do every ten
# minutes: a browser may keep the bytes as long as the link lives.
CACHE_CONTROL = "private, max-age=600"
ORIGINAL = "original"  # the variant name of the picture as uploaded (cleaned)


class MediaFiles(Protocol):
    """The bytes of pictures by key (`<referral id>/<media id>[.<size>].<ext>`)."""

    # The origin pages must allow images from (Content-Security-Policy); None: our own.
    origin: str | None

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None:
        """Remove the object for good; one already gone is not an error."""
        ...

    async def objects(self) -> dict[str, int]:
        """Every stored key and its size in bytes (backups, and the tests that look for
        leftovers)."""
        ...

    async def link(
        self, key: str, *, media_id: UUID, variant: str, now: datetime
    ) -> tuple[str, datetime]:
        """A short-lived URL of one variant of a picture, and when it stops working."""
        ...


class LocalMediaFiles:
    origin = None

    def __init__(self, root: str | Path, *, secret: str = "") -> None:
        self.root = Path(root)
        self.secret = secret

    def path(self, key: str) -> Path:
        target = (self.root / key).resolve()
        if self.root.resolve() not in target.parents:
            raise ValueError("media key escapes the media directory")
        return target

    async def put(self, key: str, data: bytes, content_type: str = "") -> None:
        await asyncio.to_thread(self._put, key, data)

    def _put(self, key: str, data: bytes) -> None:
        """Write whole or not at all: a temp file renamed into place."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self.path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> None:
        target = self.path(key)
        target.unlink(missing_ok=True)
        # The referral's folder goes with its last picture (it is named by the referral).
        if target.parent != self.root.resolve():
            with contextlib.suppress(OSError):  # not empty, or already gone
                target.parent.rmdir()

    async def objects(self) -> dict[str, int]:
        def walk() -> dict[str, int]:
            if not self.root.is_dir():
                return {}
            return {
                p.relative_to(self.root).as_posix(): p.stat().st_size
                for p in sorted(self.root.rglob("*"))
                if p.is_file() and not p.name.startswith(".upload-")
            }

        return await asyncio.to_thread(walk)

    async def link(
        self, key: str, *, media_id: UUID, variant: str, now: datetime
    ) -> tuple[str, datetime]:
        return signed_url(self.secret, media_id, now, variant)


class S3MediaFiles:
    """An S3-compatible bucket through obstore (async, and it presigns without a call)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
        region: str = "",
    ) -> None:
        from obstore.store import S3Store

        config: dict[str, str] = {}
        if endpoint:
            config["endpoint"] = endpoint
        if access_key_id:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        if region:
            config["region"] = region
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.static_keys = bool(access_key_id)
        # Path-style addressing (obstore's default) works with every S3-compatible server.
        self.store = S3Store(
            bucket,
            prefix=self.prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options={"allow_http": endpoint.startswith("http://")},
        )
        base = endpoint or f"https://s3.{region or 'us-east-1'}.amazonaws.com"
        parts = urlsplit(base)
        self.origin = f"{parts.scheme}://{parts.netloc}"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        import obstore

        await obstore.put_async(
            self.store,
            key,
            data,
            attributes={
                "Content-Type": content_type,
                "Cache-Control": CACHE_CONTROL,
                "Content-Disposition": "inline",
            },
        )

    async def get(self, key: str) -> bytes:
        import obstore

        found = await obstore.get_async(self.store, key)
        return bytes(await found.bytes_async())

    async def delete(self, key: str) -> None:
        import obstore

        await obstore.delete_async(self.store, key)  # S3 answers a missing key with 204

    async def objects(self) -> dict[str, int]:
        import obstore

        listed = await obstore.list(self.store).collect_async()
        return {item["path"]: item["size"] for item in sorted(listed, key=lambda i: i["path"])}

    async def link(
        self, key: str, *, media_id: UUID, variant: str, now: datetime
    ) -> tuple[str, datetime]:
        import obstore

        # Signed with the machine's clock, which `now` is read from. With keys given,
        # signing is a local computation (~14 µs; ~66 µs through the event loop); without,
        # the credentials may have to be fetched (instance metadata), so it is awaited.
        if self.static_keys:
            url = obstore.sign(self.store, "GET", key, URL_TTL)
        else:
            url = await obstore.sign_async(self.store, "GET", key, URL_TTL)
        return url, now + URL_TTL


def media_files_from(settings: Settings) -> MediaFiles:
    """The store the settings name: the object store of PLANTRACK_MEDIA_URL, else the
    media directory."""
    if not settings.media_url:
        return LocalMediaFiles(settings.media_dir, secret=settings.secret_key)
    bucket, _, prefix = settings.media_url.removeprefix("s3://").partition("/")
    return S3MediaFiles(
        bucket,
        prefix,
        endpoint=settings.s3_endpoint_url,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        region=settings.s3_region,
    )


def _signature(secret: str, media_id: UUID, expires: int, variant: str = ORIGINAL) -> str:
    key = hmac.new(secret.encode(), b"plantrack:media", hashlib.sha256).digest()
    # The original's message is as before the sizes, so links given out then still open.
    message = f"{media_id}:{expires}" if variant == ORIGINAL else f"{media_id}:{variant}:{expires}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def signed_url(
    secret: str, media_id: UUID, now: datetime, variant: str = ORIGINAL
) -> tuple[str, datetime]:
    expires_at = now + URL_TTL
    expires = int(expires_at.timestamp())
    size = "" if variant == ORIGINAL else f"v={variant}&"
    signature = _signature(secret, media_id, expires, variant)
    return f"/media/{media_id}?{size}exp={expires}&sig={signature}", expires_at


def check_signature(
    secret: str,
    media_id: UUID,
    expires: int,
    signature: str,
    now: datetime,
    variant: str = ORIGINAL,
) -> bool:
    if expires < now.timestamp():
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters, and a link may hold any.
    expected = _signature(secret, media_id, expires, variant)
    return hmac.compare_digest(expected.encode(), signature.encode())

"""Where picture bytes live, behind a small interface; the local file system by default.

Files are served only through short-lived signed URLs (`/media/{id}?exp=…&sig=…`),
so an image loader needs no Authorization header and a leaked URL soon stops working.
"""

import contextlib
import hashlib
import hmac
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol
from uuid import UUID

URL_TTL = timedelta(minutes=10)


class MediaFiles(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def path(self, key: str) -> Path: ...
    def delete(self, key: str) -> None:
        """Remove the file for good; a file already gone is not an error."""
        ...


class LocalMediaFiles:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        target = (self.root / key).resolve()
        if self.root.resolve() not in target.parents:
            raise ValueError("media key escapes the media directory")
        return target

    def delete(self, key: str) -> None:
        target = self.path(key)
        target.unlink(missing_ok=True)
        # The referral's folder goes with its last picture (it is named by the referral).
        if target.parent != self.root.resolve():
            with contextlib.suppress(OSError):  # not empty, or already gone
                target.parent.rmdir()

    def put(self, key: str, data: bytes) -> None:
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


def _signature(secret: str, media_id: UUID, expires: int) -> str:
    key = hmac.new(secret.encode(), b"plantrack:media", hashlib.sha256).digest()
    return hmac.new(key, f"{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(secret: str, media_id: UUID, now: datetime) -> tuple[str, datetime]:
    expires_at = now + URL_TTL
    expires = int(expires_at.timestamp())
    return (
        f"/media/{media_id}?exp={expires}&sig={_signature(secret, media_id, expires)}",
        expires_at,
    )


def check_signature(
    secret: str, media_id: UUID, expires: int, signature: str, now: datetime
) -> bool:
    if expires < now.timestamp():
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters, and a link may hold any.
    return hmac.compare_digest(_signature(secret, media_id, expires).encode(), signature.encode())

"""Pictures in tests: the same tests on the media directory and on the object store."""

import asyncio
import io
import os
import sys
from uuid import UUID

import httpx
import pytest
from PIL import Image

from backend.runtime.media_files import MediaFiles, media_files_from
from backend.services.media import attach_media
from backend.settings import Settings

# Run a test on both stores: `@ON_BOTH_STORES` (the `db` fixture makes the bucket).
ON_BOTH_STORES = pytest.mark.parametrize("media_backend", ["local", "s3"], indirect=True)


def files_of(settings: Settings) -> MediaFiles:
    return media_files_from(settings)


def png(width: int = 32, height: int = 32) -> bytes:
    """A small PNG, as a clinic might upload."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def attach_picture(
    settings: Settings, referral_id: UUID, *, kind: str = "photo", **more
) -> UUID:
    """A picture the clinic attached to a referral, before treatment (`more`: as
    `attach_media` takes it; a small PNG unless `data`)."""
    more = {"data": png(), "phase": "before", **more}
    return await attach_media(files_of(settings), referral_id=referral_id, kind=kind, **more)


async def fetch_picture(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """A picture's link as the app follows it: ours through the app, a presigned one
    straight from the store (over real HTTP, with no header of ours)."""
    if url.startswith(("http://", "https://")):
        async with httpx.AsyncClient() as store:
            return await store.get(url)
    return await client.get(url)


async def stored(settings: Settings) -> dict[str, bytes]:
    """Every object in the test's media store, by key."""
    files = files_of(settings)
    return {key: await files.get(key) for key in await files.objects()}


def environment(settings: Settings) -> dict[str, str]:
    """The variables a `plantrack` process reads for the test's database and media store."""
    return {
        "PLANTRACK_DATABASE_URL": settings.database_url,
        "PLANTRACK_SECRET_KEY": settings.secret_key,
        "PLANTRACK_VAR_DIR": settings.var_dir,
        "PLANTRACK_MEDIA_DIR": settings.media_dir,
        "PLANTRACK_MEDIA_URL": settings.media_url,
        "AWS_ENDPOINT_URL": settings.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": settings.s3_access_key_id,
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_access_key,
        "AWS_REGION": settings.s3_region,
    }


async def plantrack(settings: Settings, *args: str) -> str:
    """The CLI in a process of its own, configured by the environment as in production;
    what it printed."""
    env = {**os.environ, **environment(settings)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()

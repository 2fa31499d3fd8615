"""Pictures in tests: the same tests on the media directory and on the object store."""

import httpx
import pytest

from backend.runtime.media_files import MediaFiles, media_files_from
from backend.settings import Settings

# Run a test on both stores: `@ON_BOTH_STORES` (the `db` fixture makes the bucket).
ON_BOTH_STORES = pytest.mark.parametrize("media_backend", ["local", "s3"], indirect=True)


def files_of(settings: Settings) -> MediaFiles:
    return media_files_from(settings)


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

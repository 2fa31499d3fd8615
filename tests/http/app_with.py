"""The app in-process with some settings changed, for tests of limits and headers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec

from backend.app import create_app
from backend.settings import Settings
from tests.conftest import running


@asynccontextmanager
async def app_with(db: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(msgspec.structs.replace(db, **changes))
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plantrack.test") as c:
            yield c

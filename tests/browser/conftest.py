"""A real server process and a real browser (Debian's Chromium, driven by Playwright).

The server runs as `uvicorn` in a subprocess on a loopback port against the test's
database; the browser is launched from PLANTRACK_CHROMIUM or /usr/bin/chromium — no
browser download. Screenshots go to test-artifacts/screenshots/.
"""

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from backend.settings import Settings
from tests.live_server import serve

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("PLANTRACK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "browser tests need Debian's Chromium: apt-get install chromium "
            "(or set PLANTRACK_CHROMIUM)"
        )
    return path


@pytest.fixture
def live_server(db: Settings, tmp_path: Path) -> Iterator[str]:
    with serve(db, tmp_path) as base:
        yield base


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()


async def shot(page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


async def visited_and_first_procedure(page: Page, procedure: str) -> None:
    """On a referral's page of the clinic panel: the patient came, and the procedure whose
    title has `procedure` is done; the referral is then in treatment."""
    await page.locator("#visited-btn").click()
    await expect(page.locator("#step")).to_have_text("Был на приёме")
    item = page.locator("#item-form")
    choice = item.get_by_label("Процедура выполнена")
    done = choice.locator("option", has_text=procedure)
    await choice.select_option(await done.get_attribute("value"))
    await item.get_by_role("button", name="Записать").click()
    await expect(page.locator("#step")).to_have_text("Лечится")

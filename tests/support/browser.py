"""A real browser for the page tests: Debian's Chromium (/usr/bin/chromium, installed by
scripts/browser.sh) driven by playwright. playwright never downloads a browser here. With
CI=true a missing Chromium fails the tests instead of skipping them (service_missing)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Error, Page, async_playwright

from tests.support.db import service_missing

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 860}}


@asynccontextmanager
async def chromium(extra_args: tuple[str, ...] = ()) -> AsyncIterator[Browser]:
    """Debian's Chromium; EXTRA_ARGS for one test's needs (a fake camera, say)."""
    if not CHROMIUM.exists():
        service_missing("Chromium", FileNotFoundError(f"{CHROMIUM} (run scripts/browser.sh)"))
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=[*ARGS, *extra_args], timeout=30_000
            )
        except Error as exc:
            service_missing("Chromium", exc)
            raise
        try:
            yield browser
        finally:
            await browser.close()


def base_url(harness: Any) -> str:
    """Where the harness's aiohttp test server listens (a real TCP port on 127.0.0.1)."""
    return str(harness.client.make_url("")).rstrip("/")


async def screenshot(page: Page, name: str) -> None:
    """Full-page screenshots for a person to look at, when HANDOFF_SCREENSHOTS names a folder."""
    folder = os.environ.get("HANDOFF_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

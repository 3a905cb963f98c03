"""The browser fixture: Debian's Chromium, skipped with a reason on a laptop without it, never skipped in CI."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM
from playwright.async_api import Browser, async_playwright


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium fonts-wqy-microhei")
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium fonts-wqy-microhei")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()

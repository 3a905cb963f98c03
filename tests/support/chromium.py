"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright, never a downloaded build."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

CHROMIUM = os.environ.get("SWITCHBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HAVE_CHROMIUM = bool(os.path.exists(CHROMIUM) or shutil.which(CHROMIUM))
OUT = Path(__file__).resolve().parents[2] / "test-output"
TIMEOUT = 5_000
# Browser contexts (``new_page(browser, **DEVICE)``) for a widget checked on a desktop and on a phone in Arabic (RTL).
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "en-US"}
PHONE_RTL: dict[str, Any] = {
    "viewport": {"width": 360, "height": 740},
    "locale": "ar",
    "is_mobile": True,
    "has_touch": True,
}


async def new_page(browser: Browser, **ctx: Any) -> tuple[Page, list[str]]:
    ctx.setdefault("viewport", {"width": 1280, "height": 800})
    ctx.setdefault("reduced_motion", "reduce")
    ctx.setdefault("locale", "en-US")
    context = await browser.new_context(**ctx)
    context.set_default_timeout(TIMEOUT)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    return page, problems

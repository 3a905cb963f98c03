"""A real browser's widget answers the bridge's pings, so the heartbeat never closes a live widget (G25)."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, WebSocket, expect

from channels.web.heartbeat import Heartbeat
from tests.support.chromium import new_page
from tests.support.harness import Harness

pytestmark = pytest.mark.browser


async def test_the_widget_stays_connected_through_many_pings(
    demo_bridge: Harness, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bridge closes a socket that leaves 2 pings unanswered, and only pongs count: a browser that did not
    answer would lose its widget socket every 60-90 s and reconnect."""
    monkeypatch.setattr(Heartbeat, "interval", 0.1)
    page, problems = await new_page(browser)
    sockets: list[WebSocket] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    await page.goto(demo_bridge.url("/"))
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")
    await asyncio.sleep(1.5)  # 15 pings, answered by Chromium itself
    assert len(sockets) == 1 and not sockets[0].is_closed()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")
    await page.locator("textarea.sb-input").fill("Still there?")
    await page.keyboard.press("Enter")
    await expect(page.locator(".sb-own").last.locator(".sb-meta")).to_contain_text("Delivered", timeout=10_000)
    assert len(sockets) == 1
    assert problems == []

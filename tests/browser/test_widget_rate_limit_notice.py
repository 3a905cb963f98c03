"""A rate-limited customer is told why their message waits: the widget resends a refused message by itself, and
until one is acknowledged again a notice above the composer says so (a live region, so screen readers read it).

Without the notice the message only stayed "sending" for as long as the limit lasted, with no word why. The bridge's
limit of messages a minute per socket is lowered for the test (``MESSAGES_PER_MINUTE``, read at each message) and
raised again when the test lets "a minute pass".
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, Page, expect

from bridge import texts
from bridge.engine import MESSAGE
from channels.web import channel as web_channel
from tests.support.chromium import DESKTOP, OUT, PHONE_RTL, new_page
from tests.support.harness import Harness
from tests.support.races import writer_held

pytestmark = pytest.mark.browser

LIMIT = 2  # messages a minute per socket, for the test


def _notice_text(h: Harness, locale: str) -> str:
    return h.bridge.catalogs.pgettext(locale, texts.WIDGET_CONTEXT, texts.WIDGET_STRINGS["rate_limited"])


async def _open_widget(h: Harness, page: Page) -> None:
    await page.goto(h.url("/"))
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")


async def _stored(h: Harness) -> list[str]:
    return [row.text for row in await h.bridge.store.fetch_all(sa.select(MESSAGE.c.text).order_by(MESSAGE.c.id))]


async def _send(page: Page, text: str) -> None:
    await page.locator("textarea.sb-input").fill(text)
    await page.locator("textarea.sb-input").press("Enter")


@pytest.mark.parametrize(("device", "locale", "shot"), [(DESKTOP, "en", "desktop"), (PHONE_RTL, "ar", "phone-rtl")])
async def test_the_customer_sees_why_a_refused_message_waits_until_it_is_sent(
    demo_bridge: Harness,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    device: dict[str, Any],
    locale: str,
    shot: str,
) -> None:
    monkeypatch.setattr(web_channel, "MESSAGES_PER_MINUTE", LIMIT)
    page, problems = await new_page(browser, **device)
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    await _open_widget(demo_bridge, page)
    notice, own = page.locator(".sb-notice"), page.locator(".sb-own")
    await expect(notice).to_have_attribute("role", "status")  # in the page before it has anything to say
    await expect(notice).to_be_empty()
    for n in range(LIMIT):
        await _send(page, f"Message {n + 1}")
        await expect(own.nth(n)).not_to_have_attribute("data-state", "sending")

    await _send(page, "One message too many")
    await expect(notice).to_have_text(_notice_text(demo_bridge, locale))
    await expect(own.last).to_have_attribute("data-state", "sending")
    assert any('"code":"rate_limited"' in frame for frame in frames)
    panel, box = await page.locator(".sb-panel").bounding_box(), await notice.bounding_box()
    composer = await page.locator(".sb-composer").bounding_box()
    assert panel is not None and box is not None and composer is not None
    assert panel["x"] <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"]  # not cut off
    assert box["y"] + box["height"] <= composer["y"]  # above the message box, not over it
    icon, words = notice.locator(".sb-icon"), notice.locator("span")
    icon_box, words_box = await icon.bounding_box(), await words.bounding_box()
    assert icon_box is not None and words_box is not None
    assert (icon_box["x"] < words_box["x"]) == (locale == "en")  # the icon leads, on the right in Arabic
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / f"widget-rate-limited-{shot}.png"))

    monkeypatch.setattr(web_channel, "MESSAGES_PER_MINUTE", 100)  # a minute later
    await expect(own.last).not_to_have_attribute("data-state", "sending", timeout=10_000)  # resent by itself
    await expect(notice).to_be_empty()
    assert await _stored(demo_bridge) == ["Message 1", "Message 2", "One message too many"]
    assert problems == []


async def test_a_refusal_that_overtakes_earlier_acks_still_gets_its_message_resent(
    demo_bridge: Harness, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error frame names no message: the widget takes the oldest message it is waiting for as the refused one.
    The per-socket limit refuses a message at once, while the messages before it still wait for their commit, so
    the refusal arrives first and the widget took the wrong message: the refused one was never resent, and it stayed
    "sending", the notice with it, until the socket reconnected."""
    monkeypatch.setattr(web_channel, "MESSAGES_PER_MINUTE", LIMIT)
    page, problems = await new_page(browser)
    await _open_widget(demo_bridge, page)
    notice, own = page.locator(".sb-notice"), page.locator(".sb-own")
    async with writer_held(demo_bridge.bridge.store):  # the first two wait for their commit; the third is refused
        await page.evaluate(
            """() => {
              const input = document.getElementById("switchboard-widget").shadowRoot.querySelector("textarea");
              for (let n = 1; n <= 3; n++) {
                input.value = `message ${n}`;
                input.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
              }
            }"""
        )
        await expect(notice).to_have_text(_notice_text(demo_bridge, "en"))
        await expect(own).to_have_count(3)
        monkeypatch.setattr(web_channel, "MESSAGES_PER_MINUTE", 100)  # a minute later
    for index in range(3):
        await expect(own.nth(index)).not_to_have_attribute("data-state", "sending", timeout=10_000)
    await expect(notice).to_be_empty()
    assert await _stored(demo_bridge) == [f"message {n}" for n in (1, 2, 3)]  # the resent ones once each
    assert problems == []

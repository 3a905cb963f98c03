"""The demo as a new user meets it: the page's widget talks to the emulated Slack thread and back."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, expect

from bridge.store import PendingMessage
from tests.support.chromium import OUT, new_page
from tests.support.harness import Harness
from tests.support.races import writer_held

pytestmark = pytest.mark.browser


async def test_widget_message_reaches_slack_thread_and_reply_comes_back(demo_bridge: Harness, browser: Browser) -> None:
    page, problems = await new_page(browser)
    await page.goto(demo_bridge.url("/"))
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")
    await page.locator("textarea.sb-input").fill("Hello from the browser, my order is late")
    await page.keyboard.press("Enter")
    await expect(page.locator(".sb-own").last.locator(".sb-meta")).to_contain_text("Delivered", timeout=10_000)

    await demo_bridge.slack.wait_for(lambda: bool(demo_bridge.slack.channel_messages()), 10)
    root = demo_bridge.slack.channel_messages()[0]["ts"]
    assert [m["text"] for m in demo_bridge.slack.thread(root)] == ["Hello from the browser, my order is late"]
    await demo_bridge.slack.agent_says("Hi! I am looking into it right now.", thread_ts=root)
    await expect(page.locator(".sb-other:not(.sb-greeting)").last).to_contain_text(
        "Hi! I am looking into it right now.", timeout=10_000
    )
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / "demo-end-to-end.png"))
    assert problems == []


async def test_messages_sent_together_are_all_marked_sent_from_one_acks_frame(
    demo_bridge: Harness, browser: Browser
) -> None:
    page, problems = await new_page(browser)
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    await page.goto(demo_bridge.url("/"))
    await page.locator(".sb-launcher").click()
    await page.locator("textarea.sb-input").fill("Hello")
    await page.locator("textarea.sb-input").press("Enter")
    await expect(page.locator(".sb-own").last).to_have_attribute("data-state", "delivered", timeout=10_000)

    # Ten messages in one go (one JS task), queued while the writer is held, so they share one commit (left to
    # timing, each could be committed alone: the writer takes what is queued the moment it is free), and the
    # bridge acks that commit in one frame.
    writer = demo_bridge.bridge.store.writer
    own = page.locator(".sb-own")
    async with writer_held(demo_bridge.bridge.store):
        await page.evaluate(
            """() => {
              const root = document.getElementById("switchboard-widget").shadowRoot;
              const input = root.querySelector("textarea.sb-input");
              for (let n = 1; n <= 10; n++) {
                const text = `message ${n}`;
                input.value = text;
                input.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
              }
            }"""
        )
        await expect(own).to_have_count(11)
        async with asyncio.timeout(10):  # the bridge has read all ten: they wait in the writer's queue
            while sum(isinstance(item, PendingMessage) for item in writer._queue) < 10:  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.01)
    for index in range(1, 11):
        await expect(own.nth(index)).not_to_have_attribute("data-state", "sending", timeout=10_000)
    assert any('"type":"acks"' in frame for frame in frames)
    await page.screenshot(path=str(OUT / "widget-acks-batch.png"))
    assert problems == []

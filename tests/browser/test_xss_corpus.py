"""The XSS corpus against the agents' and the customers' pages, in headless Chromium (reliability target E21).

Every payload of ``tests/support/xss_corpus.py`` is sent as widget message text (typed in the demo page's widget),
as a visitor's name, email, custom attributes and page URL (one visitor per payload, each with its own Slack card),
with the visitor-controlled headers of the WebSocket upgrade set to it (User-Agent, Referer, X-Forwarded-For:
the bridge shows none of them), and as an agent's reply. Then the emulated Slack workspace page (the channel's 52
cards, the typed messages' thread) and the widget (live and after a reload, from history) render them all, and no
payload may run: ``__xss`` (exposed in every frame) is never called and no dialog opens. A control page that puts
the same payloads into raw HTML shows that ``__xss`` does catch them when markup is not escaped.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from bridge.cli import demo_page
from bridge.sanitize import strip_html
from tests.support.chromium import new_page
from tests.support.harness import Harness, Widget, running_bridge, running_slack
from tests.support.xss_corpus import PAYLOADS, visitor_controls_posted

pytestmark = pytest.mark.browser
N = len(PAYLOADS)
# Payloads the control page must catch when they are put into HTML as they are: the proof that the detector works.
# The others need a click or a hover, a naive filter to join them (``<scr<script>ipt>``), a sanitizer to mutate
# them (``<math><mtext>...``), a top-level page, or a ">" that HTML around them supplies (the unterminated one).
RUN_WHEN_RAW = {0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 18, 19, 21, 26, 27, 28, 29, 33, 34}


@pytest.fixture
async def demo(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo's wiring on ``db_url``: the bridge serves the demo page (its widget), the Slack emulator behind it."""
    async with running_slack() as (slack, slack_server):
        page = demo_page(slack_url=str(slack_server.make_url("/")))
        async with running_bridge(db_url, tmp_path, slack, slack_server, demo_page=page) as harness:
            yield harness


class Watch:
    """A page's executions (``__xss(n)`` calls) and dialogs, recorded rather than left to block the page."""

    def __init__(self) -> None:
        self.hits: list[int] = []
        self.dialogs: list[str] = []

    async def page(self, browser: Browser, **ctx: Any) -> tuple[Page, list[str]]:
        page, problems = await new_page(browser, **ctx)
        await page.expose_function("__xss", lambda n: self.hits.append(int(n)))
        page.on("dialog", self._dialog)
        return page, problems

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        asyncio.ensure_future(dialog.dismiss())


async def hostile_visitor(harness: Harness, index: int, text: str) -> None:
    """A visitor whose every field is ``text``, headers included, writes ``text``: one conversation, one card."""
    headers = {"Origin": harness.origin, "User-Agent": text, "Referer": text, "X-Forwarded-For": text}
    page_url = text if index % 2 else f"https://shop.example/search?q={text}"
    hello = {
        "type": "hello",
        "session": None,
        "last_seen": 0,
        "locale": "en",
        "name": text,
        "email": text,
        "page_url": page_url,
        "attributes": {"plan": text, text[:60]: "key"},
    }
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(harness.url("/widget/ws"), headers=headers) as ws,
    ):
        widget = Widget(ws)
        await widget.send(hello)
        await widget.expect("welcome")
        ack = await widget.say(text, f"hostile-{index}")
        assert ack["status"] == "sent", ack


async def test_no_payload_runs_in_the_slack_page_or_the_widget(demo: Harness, browser: Browser, tmp_path: Path) -> None:
    watch = Watch()

    # The control: the same payloads as raw HTML, each in a frame of its own, do run.
    control, _ = await watch.page(browser)
    frames = "".join(f'<iframe srcdoc="{html.escape(p.text)}"></iframe>' for p in PAYLOADS)
    await control.set_content(f"<!doctype html><body>{frames}</body>")
    async with asyncio.timeout(10):
        while not RUN_WHEN_RAW <= set(watch.hits):  # noqa: ASYNC110 - the calls come from the page, not an event
            await asyncio.sleep(0.05)
    await control.context.close()
    watch.hits.clear()

    # The customer types every payload in the demo page's widget.
    shop, shop_problems = await watch.page(browser)
    await shop.goto(demo.url("/"))
    await shop.locator(".sb-launcher").click()
    await expect(shop.locator(".sb-root")).to_have_attribute("data-conn", "online")
    for payload in PAYLOADS:
        await shop.locator("textarea.sb-input").fill(payload.text)
        await shop.keyboard.press("Enter")
    await demo.slack.wait_for(lambda: bool(demo.slack.channel_messages()), 10)
    root = demo.slack.channel_messages()[0]["ts"]
    await demo.slack.wait_for(lambda: len(demo.slack.thread(root)) == N, 20)

    # One hostile visitor per payload (name, email, attributes, page URL, headers), then an agent's reply each.
    for index, payload in enumerate(PAYLOADS):
        await hostile_visitor(demo, index, payload.text)
    for payload in PAYLOADS:
        await demo.slack.agent_says(payload.text, thread_ts=root)
    await demo.slack.wait_for(lambda: len(demo.slack.channel_messages()) == N + 1, 20)
    await demo.slack.wait_for(lambda: len(demo.slack.thread(root)) == 2 * N, 20)
    agent_said = shop.locator(".sb-other:not(.sb-greeting)")
    await expect(agent_said).to_have_count(N, timeout=20_000)

    # The agents' page: every card in the channel, then the typed messages' thread.
    slack, slack_problems = await watch.page(browser, viewport={"width": 1400, "height": 1000})
    await slack.goto(str(demo.slack_server.make_url("/")))
    cards = slack.locator("#channel-messages .msg.clickable")
    await expect(cards).to_have_count(N + 1, timeout=10_000)
    await slack.screenshot(path=str(tmp_path / "slack-channel.png"))
    await cards.first.click()
    await expect(slack.locator("#thread-messages .msg")).to_have_count(1 + 2 * N, timeout=10_000)
    thread_text = await slack.locator("#thread-messages").inner_text()
    assert strip_html(PAYLOADS[36].text) in thread_text  # an unterminated tag is stored as typed, shown as text
    await slack.screenshot(path=str(tmp_path / "slack-thread.png"))
    await cards.last.click()  # a hostile visitor's card, with its thread open beside it
    await expect(slack.locator("#thread-messages .msg")).to_have_count(2, timeout=10_000)

    # The customer's page: the agents' replies live, then the whole conversation again from history.
    await shop.screenshot(path=str(tmp_path / "widget-live.png"))
    await shop.reload()
    await shop.locator(".sb-launcher").click()
    await expect(shop.locator(".sb-row[data-id]")).to_have_count(2 * N, timeout=10_000)
    await expect(shop.locator(".sb-other:not(.sb-greeting)").last).to_contain_text(  # agents' text: as typed
        PAYLOADS[-1].text.split("|")[-1]
    )
    await shop.screenshot(path=str(tmp_path / "widget-history.png"))

    await asyncio.sleep(0.5)  # handlers that fire late (an image's error, an animation's start) have fired by now
    assert watch.hits == [] and watch.dialogs == []
    assert shop_problems == [] and slack_problems == []
    assert visitor_controls_posted(demo.slack) == []  # no <!channel>, <!here> or hidden link made by a visitor

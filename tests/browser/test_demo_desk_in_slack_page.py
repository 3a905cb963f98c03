"""The desk as a new agent meets it in the demo's emulated Slack: every card control, notes, commands, the ⋯ menu,
App Home and the exported transcript, clicked in headless Chromium.

Before these fixes the page could not show Tags or Assign to…, sent "// note" to the app as a slash command,
dropped the answer of /stats, had no way to open App Home or a message shortcut, and showed files as dead chips.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect
from slack_sdk.web.async_client import AsyncWebClient

from bridge.cli import demo_page
from bridge.sandbox.slack_manifest import read_manifest
from tests.scenarios.test_agent_works_a_conversation_from_its_card import SAM, card_fields, thread_texts
from tests.support.chromium import OUT, new_page
from tests.support.harness import Harness, running_bridge, running_slack

pytestmark = pytest.mark.browser
SHOTS = OUT / "slack-page"


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Harness]:
    """The demo's wiring: the Slack emulator knows the app's manifest, the bridge has a public URL (the chart)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}"
    async with running_slack() as (slack, slack_server):
        slack.manifest = read_manifest()
        page = demo_page(slack_url=str(slack_server.make_url("/")))
        async with running_bridge(url, tmp_path, slack, slack_server, demo_page=page, public=True) as harness:
            yield harness


async def customer_writes(demo: Harness, page: Page, text: str) -> None:
    await page.goto(demo.url("/"))
    await page.locator(".sb-launcher").click()
    await page.locator("textarea.sb-input").fill(text)
    await page.keyboard.press("Enter")
    await demo.slack.wait_for(lambda: bool(demo.slack.channel_messages()) and bool(thread_texts(demo)), 10)


async def test_an_agent_works_the_conversation_from_the_slack_page(demo: Harness, browser: Browser) -> None:
    shop, problems = await new_page(browser)
    await customer_writes(demo, shop, "Where is my parcel?")
    slack, slack_problems = await new_page(browser, viewport={"width": 1400, "height": 900})
    await slack.goto(str(demo.slack_server.make_url("/")))
    SHOTS.mkdir(parents=True, exist_ok=True)

    await slack.locator("#channel-messages .msg.clickable").first.click()
    thread = slack.locator("#thread-pane")
    await thread.get_by_label("Assign to…").select_option(label="Sam Agent")
    await demo.slack.wait_for(lambda: card_fields(demo).get("Assignee") == f"<@{SAM}>", 10)
    await expect(thread.get_by_label("Assign to…")).to_have_value(SAM)  # the card shows who has it

    await thread.locator("details.multi summary").click()
    await thread.get_by_label("Payment").check()
    await demo.slack.wait_for(lambda: card_fields(demo).get("Tags") == "payment", 10)
    await expect(thread.locator("details.multi summary")).to_have_text("Payment")

    await slack.locator("#composer-text").fill("// the courier lost it, refund on the way")
    await slack.keyboard.press("Enter")
    await demo.slack.wait_for(lambda: "// the courier lost it, refund on the way" in thread_texts(demo), 10)
    await slack.locator("#composer-text").fill("/stats")
    await slack.keyboard.press("Enter")
    await expect(thread.locator(".msg.ephemeral")).to_contain_text("/stats is not supported in threads. Sorry!")

    await slack.locator("#channel-text").fill("/")
    await expect(slack.locator(".suggest-item")).to_have_count(len(read_manifest().commands))
    await slack.screenshot(path=str(SHOTS / "command-menu.png"))
    await slack.locator(".suggest-item", has_text="/stats").click()
    await expect(slack.locator("#channel-text")).to_have_value("/stats ")
    await slack.keyboard.press("Enter")
    stats = slack.locator("#channel-messages .msg.ephemeral", has_text="Support stats: the last 7 days")
    await expect(stats).to_contain_text("Only visible to you")

    customer_message = thread.locator("#thread-messages .msg", has=slack.locator(".author", has_text="Customer"))
    await customer_message.hover()
    await customer_message.get_by_role("button", name="More actions").click()
    await slack.get_by_role("menuitem", name="Send canned answer").click()
    modal = slack.locator(".overlay")
    await expect(modal.locator(".modal-head")).to_have_text("Send canned answer")
    await modal.locator("select").select_option("order_status")
    await modal.locator("input").fill("order=A-42")
    await slack.screenshot(path=str(SHOTS / "canned-modal.png"))
    await modal.get_by_role("button", name="Send").click()
    await expect(modal).to_have_count(0)
    await expect(shop.locator(".sb-other").last).to_contain_text("A-42", timeout=10_000)

    await thread.get_by_role("button", name="Export").click()
    transcript = thread.locator("a.file", has_text="transcript")
    await expect(transcript).to_be_visible(timeout=10_000)
    href = await transcript.get_attribute("href")
    async with aiohttp.ClientSession() as session, session.get(str(demo.slack_server.make_url(str(href)))) as got:
        assert got.status == 200 and "Where is my parcel?" in await got.text()
    await slack.screenshot(path=str(SHOTS / "thread.png"))

    root = demo.slack.channel_messages()[0]["ts"]  # a permalink (as on a card's "Earlier" line) opens its thread here
    client = AsyncWebClient(token=demo.slack.bot_token, base_url=demo.slack.api_url)
    link = (await client.chat_getPermalink(channel=demo.slack.support_channel, message_ts=root))["permalink"]
    await client.chat_postMessage(channel=demo.slack.support_channel, text=f"Earlier: <{link}|#1 · resolved>")
    await slack.locator("#thread-close").click()
    await slack.get_by_role("link", name="#1 · resolved").click()
    await expect(thread).to_be_visible()
    await expect(thread.locator("#thread-messages .msg").first).to_have_attribute("data-ts", root)
    assert problems == [] and slack_problems == []


async def test_open_menus_stay_open_while_the_page_re_renders(demo: Harness, browser: Browser) -> None:
    """The page re-renders from the polled state on every change (any message in the workspace, any card update).
    Before, that closed the menu an agent had open: ticking a tag while customers wrote meant reopening it again
    and again."""
    shop, problems = await new_page(browser)
    await customer_writes(demo, shop, "Where is my parcel?")
    slack, slack_problems = await new_page(browser, viewport={"width": 1400, "height": 900})
    await slack.goto(str(demo.slack_server.make_url("/")))
    await slack.locator("#channel-messages .msg.clickable").first.click()
    thread = slack.locator("#thread-pane")
    tags = thread.locator("details.multi")
    await tags.locator("summary").click()
    root = thread.locator("#thread-messages .msg").first
    await root.hover()
    await root.get_by_role("button", name="More actions").click()
    actions = root.locator(".msg-menu")
    await expect(actions).to_be_visible()
    await tags.locator("summary").click()  # a click elsewhere closes the ⋯ menu, as in Slack
    await expect(actions).to_be_hidden()
    await expect(tags).to_have_attribute("open", "")

    for n in range(3):  # the customer writes on: each message re-renders the thread
        before = demo.slack.version
        await shop.locator("textarea.sb-input").fill(f"Hello? ({n})")
        await shop.keyboard.press("Enter")
        await expect(thread.locator("#thread-messages")).to_contain_text(f"Hello? ({n})")
        assert demo.slack.version > before
    await expect(tags).to_have_attribute("open", "")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await slack.screenshot(path=str(SHOTS / "tags-menu-open.png"))
    await thread.get_by_label("Payment").check()
    await demo.slack.wait_for(lambda: card_fields(demo).get("Tags") == "payment", 10)
    await expect(tags.locator("summary")).to_have_text("Payment")  # the card's update re-rendered it: still open
    await expect(tags).to_have_attribute("open", "")

    await slack.locator("#composer-text").click()  # a click elsewhere closes it
    await expect(tags).not_to_have_attribute("open", "")
    assert problems == [] and slack_problems == []


async def test_app_home_opens_from_the_sidebar_with_its_chart_and_toggle(demo: Harness, browser: Browser) -> None:
    slack, problems = await new_page(browser, viewport={"width": 1400, "height": 1000})
    await slack.goto(str(demo.slack_server.make_url("/")))
    await slack.locator("#nav-home").click()
    home = slack.locator("#home-pane")
    await expect(home).to_contain_text("Not set: conversations are not offered to you until you are available.")
    chart = home.locator("figure.b-image img")
    await expect(chart).to_have_attribute(
        "alt", "New and resolved conversations per day over the last 30 days (at most 0 new a day)"
    )
    loaded = "img => img.complete && img.naturalWidth > 0"  # the signed PNG link, fetched from the bridge
    await slack.wait_for_function(loaded, arg=await chart.element_handle(), timeout=10_000)

    await home.get_by_role("button", name="I'm available").click()
    await expect(home).to_contain_text("Available: new conversations are offered to you (up to 5 open at a time).")
    await slack.screenshot(path=str(SHOTS / "app-home.png"), full_page=True)
    await slack.locator("#nav-support").click()
    await expect(slack.locator("#channel-composer")).to_be_visible()
    assert problems == []

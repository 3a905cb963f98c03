"""The demo's Telegram page as a customer meets it: the bot's Menu in their language, and coming back to the page.

Before, the page had no Menu (the bridge registered no commands), and reopening it reset the form to "Ana",
Indonesian, so the next message renamed the customer and switched the bot's language.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.chromium import OUT, new_page
from tests.support.harness import Harness, running_telegram_bridge

pytestmark = pytest.mark.browser


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_telegram_bridge(f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}", tmp_path, "webhook") as h:
        yield h


async def test_menu_in_the_customers_language_and_the_page_remembers_them(bridge: Harness, browser: Browser) -> None:
    assert bridge.settings.telegram is not None and bridge.telegram is not None
    page_url = bridge.settings.telegram.api_url.removesuffix("/bot") + "/"
    page, problems = await new_page(browser)
    await page.goto(page_url)
    await page.fill("#first-name", "Olga")
    await page.select_option("#language", "ru")
    await page.fill("#chat-id", "5151")
    await page.click(".open-chat")

    await page.get_by_role("button", name="Menu").click()
    menu = page.get_by_role("menu", name="Bot commands")
    await expect(menu.get_by_role("menuitem")).to_have_count(3)
    await expect(menu.get_by_role("menuitem", name="/transcript")).to_contain_text(
        "Получить последний разговор текстовым файлом"
    )
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / "telegram-page-menu.png"))
    await menu.get_by_role("menuitem", name="/transcript").click()
    await expect(menu).to_be_hidden()
    await expect(page.locator(".msg.out .text").last).to_have_text("/transcript")
    await expect(page.locator(".msg.in .text").last).to_have_text("Пока нечего отправить: сначала напишите нам.")

    await page.fill("#text", "/la")
    await expect(menu.get_by_role("menuitem")).to_have_count(1)
    await page.fill("#text", "")

    await page.reload()
    await expect(page.locator("#first-name")).to_have_value("Olga")
    await expect(page.locator("#language")).to_have_value("ru")
    await expect(page.locator("#chat-id")).to_have_value("5151")
    await page.fill("#text", "Где мой заказ?")
    await page.press("#text", "Enter")
    await bridge.slack.wait_for(lambda: bool(bridge.slack.channel_messages()), 10)
    assert "Olga" in bridge.slack.channel_messages()[0]["text"]
    [chat] = bridge.telegram.chats()
    assert (chat["first_name"], chat["language_code"]) == ("Olga", "ru")
    assert problems == []

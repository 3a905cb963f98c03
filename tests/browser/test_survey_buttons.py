"""The survey's 1-5 buttons in the real widget: real buttons, the keyboard, a phone held right-to-left."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.scenarios.test_agent_works_a_conversation_from_its_card import ALEX, card_fields
from tests.support.chromium import OUT, new_page
from tests.support.harness import Harness

pytestmark = pytest.mark.browser


async def closed_conversation(demo_bridge: Harness, page: Page, text: str) -> None:
    """The visitor writes ``text``; Alex closes the conversation from its card in Slack."""
    await page.goto(demo_bridge.url("/"))
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")
    await page.locator("textarea.sb-input").fill(text)
    await page.keyboard.press("Enter")
    slack = demo_bridge.slack
    await slack.wait_for(lambda: len(slack.channel_messages()) == 1, 10)
    root = slack.channel_messages()[0]["ts"]
    await slack.wait_for(lambda: len(slack.thread(root)) == 1, 10)
    await slack.click_button(root, "desk_close", user=ALEX)


async def test_rating_with_the_keyboard_then_a_comment(demo_bridge: Harness, browser: Browser) -> None:
    page, problems = await new_page(browser)
    await closed_conversation(demo_bridge, page, "My parcel never arrived")
    survey = page.get_by_role("group", name=re.compile("^How would you rate this conversation"))
    await expect(survey.get_by_role("button")).to_have_count(5)
    await expect(survey.get_by_role("button", name="5")).to_be_enabled()
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / "widget-survey-buttons.png"))

    await survey.get_by_role("button", name="3").focus()
    await page.keyboard.press("Tab")
    await expect(survey.get_by_role("button", name="4")).to_be_focused()
    await page.keyboard.press("Enter")

    await expect(survey).to_be_hidden()
    await expect(page.locator(".sb-own .sb-text").last).to_have_text("4")
    await expect(page.locator("textarea.sb-input")).to_be_focused()  # the buttons went: back to writing
    await expect(page.locator(".sb-system .sb-text").last).to_contain_text("Is there anything you would like to add?")
    await demo_bridge.slack.wait_for(lambda: card_fields(demo_bridge).get("Rating") == "★★★★☆ 4/5", 10)

    await page.keyboard.type("The courier was lovely")
    await page.keyboard.press("Enter")

    await demo_bridge.slack.wait_for(
        lambda: card_fields(demo_bridge).get("Rating") == "★★★★☆ 4/5 — “The courier was lovely”", 10
    )
    await expect(page.locator(".sb-system .sb-text").last).to_have_text("Thank you for your feedback!")
    await page.screenshot(path=str(OUT / "widget-survey-commented.png"))
    assert problems == []


async def test_buttons_fit_a_phone_in_a_right_to_left_language(demo_bridge: Harness, browser: Browser) -> None:
    page, problems = await new_page(
        browser, viewport={"width": 360, "height": 740}, locale="ar", is_mobile=True, has_touch=True
    )
    await closed_conversation(demo_bridge, page, "لم يصل طلبي")
    buttons = page.locator(".sb-choices .sb-choice")
    await expect(buttons).to_have_count(5)
    await expect(page.locator(".sb-panel")).to_have_attribute("dir", "rtl")

    panel = await page.locator(".sb-list").bounding_box()
    boxes = [await buttons.nth(i).bounding_box() for i in range(5)]
    assert panel is not None and all(box is not None for box in boxes)
    for box in boxes:
        assert box is not None and box["width"] >= 44 and box["height"] >= 44  # touch-sized
        assert panel["x"] <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"]
    assert len({round(box["y"]) for box in boxes if box}) == 1  # one row
    assert [b["x"] for b in boxes if b] == sorted((b["x"] for b in boxes if b), reverse=True)  # 1 on the right
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / "widget-survey-buttons-phone-rtl.png"))

    await buttons.nth(4).tap()

    await expect(page.locator(".sb-choices")).to_be_hidden()
    await expect(page.locator(".sb-own .sb-text").last).to_have_text("5")
    await demo_bridge.slack.wait_for(lambda: card_fields(demo_bridge).get("Rating") == "★★★★★ 5/5", 10)
    assert problems == []

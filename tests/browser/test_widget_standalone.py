"""The embeddable widget (channels/web/static/widget.js) in headless Chromium, against an in-memory fake bridge."""

from __future__ import annotations

import asyncio
import re

import pytest
from fake_widget_server import FakeBridge
from playwright.async_api import Page, expect

from tests.support.chromium import OUT, TIMEOUT, new_page

pytestmark = pytest.mark.browser

SHADOW = "document.querySelector('#switchboard-widget').shadowRoot"


@pytest.fixture
async def bridge(aiohttp_server) -> tuple[FakeBridge, object]:
    fake = FakeBridge(auto_deliver=False)
    server = await aiohttp_server(fake.make_app())
    return fake, server


async def eventually(check, within: float = TIMEOUT / 1000) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def shown_ids(page: Page) -> list[int]:
    return await page.evaluate(f"[...{SHADOW}.querySelectorAll('.sb-row[data-id]')].map(r => +r.dataset.id)")


async def open_widget(page: Page) -> None:
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-panel")).to_be_visible()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")


async def send(page: Page, text: str) -> None:
    box = page.locator("textarea.sb-input")
    await box.fill(text)
    await box.press("Enter")


async def test_conversation_survives_reload_and_reconnect(bridge, browser):
    fake, server = bridge
    OUT.mkdir(exist_ok=True)
    page, problems = await new_page(browser)
    await page.goto(str(server.make_url("/demo")))
    # the demo page: Slack link substituted, Telegram token left literal -> hidden
    await expect(page.locator("#slack-link")).to_have_attribute("href", "/slack-demo")
    await expect(page.locator("#telegram-link")).to_be_hidden()

    launcher = page.locator(".sb-launcher")
    await expect(launcher).to_have_attribute("aria-label", "Open chat")
    await open_widget(page)
    await expect(page.locator(".sb-list")).to_have_attribute("role", "log")
    await expect(page.locator(".sb-list")).to_have_attribute("aria-live", "polite")
    await expect(page.locator("textarea.sb-input")).to_be_focused()
    assert fake.hellos[-1]["session"] is None and fake.hellos[-1]["last_seen"] == 0
    assert fake.hellos[-1]["locale"] == "en"
    stored = await page.evaluate("localStorage.getItem('switchboard.session')")
    assert stored == fake.conversation.token
    assert fake.conversation.token not in page.url

    # own message: Sent after ack, Delivered after the status frame
    await send(page, "Hi! Where is my order #1234?")
    own = page.locator(".sb-own").last
    await expect(own).to_have_attribute("data-state", "sent")
    await expect(own.locator(".sb-meta")).to_contain_text("Sent")
    await expect(page.locator("textarea.sb-input")).to_have_value("")
    await fake.deliver_all()
    await expect(own).to_have_attribute("data-state", "delivered")
    await expect(own.locator(".sb-meta")).to_contain_text("Delivered")

    # agent reply with a link
    await fake.push_agent("Let me check. You can track it here: https://acme.example/orders/1234.")
    other = page.locator(".sb-other:not(.sb-greeting)").last
    await expect(other).to_contain_text("Let me check.")
    await expect(other.locator(".sb-author")).to_have_text("Maria Lopez")
    link = other.locator("a")
    await expect(link).to_have_attribute("href", "https://acme.example/orders/1234")
    await expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    await expect(link).to_have_attribute("target", "_blank")

    # hostile text renders as text
    xss = "<img src=x onerror=alert(1)>"
    await send(page, xss)
    await expect(page.locator(".sb-own").last.locator(".sb-text")).to_have_text(xss)
    await expect(page.locator(".sb-own").last).to_have_attribute("data-state", "sent")
    assert await page.evaluate(f"{SHADOW}.querySelectorAll('img').length") == 0
    assert await page.locator("img").count() == 0
    await fake.deliver_all()
    await fake.push_agent("Thanks! Your parcel left our warehouse this morning and arrives tomorrow.")
    await expect(page.locator(".sb-other").last).to_contain_text("arrives tomorrow")
    await page.wait_for_timeout(150)
    await page.screenshot(path=str(OUT / "widget-desktop.png"))
    await page.locator(".sb-panel").screenshot(path=str(OUT / "widget-desktop-panel.png"))

    server_ids = [m["id"] for m in fake.conversation.messages]
    assert await shown_ids(page) == server_ids

    # reload: the same history, once, in order
    await page.reload()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")
    assert fake.hellos[-1]["session"] == fake.conversation.token
    await open_widget(page)
    await expect(page.locator(".sb-row[data-id]")).to_have_count(len(server_ids))
    assert await shown_ids(page) == server_ids

    # the server drops the socket; a message pushed meanwhile arrives once after the reconnect
    fake.pause()
    await fake.kill_all()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "reconnecting")
    await expect(page.locator(".sb-status-text")).to_have_text("Reconnecting…")
    await fake.push_agent("Are you still there?")
    await page.wait_for_timeout(300)
    fake.resume()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")
    await expect(page.get_by_text("Are you still there?")).to_have_count(1)
    assert fake.hellos[-1]["last_seen"] == server_ids[-1]
    server_ids = [m["id"] for m in fake.conversation.messages]
    assert await shown_ids(page) == server_ids

    # unread badge while closed
    await page.locator(".sb-close").click()
    await expect(page.locator(".sb-panel")).to_be_hidden()
    await expect(launcher).to_be_focused()
    await fake.push_agent("One more thing: the courier needs a door code.")
    badge = page.locator(".sb-badge")
    await expect(badge).to_have_text("1")
    await expect(launcher).to_have_attribute("aria-label", re.compile(r"1 New messages"))
    await page.keyboard.press("Enter")  # keyboard opens it again
    await expect(page.locator(".sb-panel")).to_be_visible()
    await expect(badge).to_be_hidden()
    await page.keyboard.press("Escape")
    await expect(page.locator(".sb-panel")).to_be_hidden()
    assert problems == []


async def test_outbox_survives_reload_and_resends_once(bridge, browser):
    fake, server = bridge
    page, problems = await new_page(browser)
    await page.goto(str(server.make_url("/demo")))
    fake.pause()  # the bridge does not answer: the widget stays connecting
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "connecting")
    await send(page, "typed while offline")
    own = page.locator(".sb-own").last
    await expect(own).to_have_attribute("data-state", "sending")
    await expect(own.locator(".sb-meta")).to_contain_text("Sending…")
    outbox = await page.evaluate("JSON.parse(localStorage.getItem('switchboard.outbox'))")
    assert [m["text"] for m in outbox] == ["typed while offline"]
    client_id = outbox[0]["client_id"]

    await page.reload()
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-own").last).to_have_attribute("data-state", "sending")
    fake.drop_before_next_ack = True  # stored, then the socket dies before the ack
    fake.resume()
    await expect(page.locator(".sb-own").last).to_have_attribute("data-state", "sent")
    texts = [m["text"] for m in fake.conversation.messages]
    assert texts == ["typed while offline"]
    # the message was stored before the socket died: the next welcome carries it (matched by client_id),
    # and any resend used the same client_id
    sent = [f["client_id"] for f in fake.received if f.get("type") == "message"]
    assert set(sent) == {client_id}
    await expect(page.locator(".sb-own")).to_have_count(1)
    assert await page.evaluate("localStorage.getItem('switchboard.outbox')") is None
    assert problems == []


async def test_language_picker_switches_to_rtl(bridge, browser):
    fake, server = bridge
    OUT.mkdir(exist_ok=True)
    page, problems = await new_page(browser, locale="tr-TR")
    await page.goto(str(server.make_url("/demo")))
    await open_widget(page)
    # navigator.languages picked Turkish
    await expect(page.locator(".sb-title")).to_have_text("Bize yazın")
    await expect(page.locator(".sb-panel")).to_have_attribute("dir", "ltr")
    assert fake.hellos[-1]["locale"] == "tr"
    await send(page, "Merhaba")
    await expect(page.locator(".sb-own").last).to_have_attribute("data-state", "sent")
    await expect(page.locator(".sb-own").last.locator(".sb-meta")).to_contain_text("Gönderildi")

    hellos = len(fake.hellos)
    await page.locator("select.sb-lang-select").select_option("ar")
    await expect(page.locator(".sb-panel")).to_have_attribute("dir", "rtl")
    await expect(page.locator(".sb-panel")).to_have_attribute("lang", "ar")
    await expect(page.locator(".sb-title")).to_have_text("تحدث معنا")
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")
    assert len(fake.hellos) > hellos and fake.hellos[-1]["locale"] == "ar"
    assert fake.hellos[-1]["session"] == fake.conversation.token
    assert await page.evaluate("localStorage.getItem('switchboard.locale')") == "ar"
    await expect(page.locator(".sb-own")).to_have_count(1)  # the reconnect did not duplicate anything
    await fake.deliver_all()
    await fake.push_agent("أهلاً! كيف يمكنني مساعدتك؟", name="ليلى")
    await expect(page.locator(".sb-other").last).to_contain_text("كيف")
    # own messages sit on the inline end: the left in RTL
    panel = await page.locator(".sb-panel").bounding_box()
    bubble = await page.locator(".sb-own .sb-bubble").last.bounding_box()
    assert bubble["x"] - panel["x"] < 40
    await page.wait_for_timeout(150)
    await page.screenshot(path=str(OUT / "widget-rtl.png"))

    # the explicit choice wins over navigator.languages after a reload
    await page.reload()
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-panel")).to_have_attribute("dir", "rtl")
    assert problems == []


async def test_phone_panel_is_full_screen(bridge, browser):
    fake, server = bridge
    OUT.mkdir(exist_ok=True)
    page, problems = await new_page(
        browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    await page.goto(str(server.make_url("/demo")))
    # a stale session token is dropped and a fresh session is requested
    await page.evaluate("localStorage.setItem('switchboard.session', 'stale-token')")
    await page.reload()
    await eventually(lambda: [h["session"] for h in fake.hellos] == ["stale-token", None])
    assert await page.evaluate("localStorage.getItem('switchboard.session')") == fake.conversation.token
    await page.screenshot(path=str(OUT / "widget-phone-closed.png"))
    await open_widget(page)
    box = await page.locator(".sb-panel").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
    await expect(page.locator(".sb-launcher")).to_be_hidden()
    await send(page, "Can I change the delivery address?")
    await expect(page.locator(".sb-own").last).to_have_attribute("data-state", "sent")
    await fake.deliver_all()
    await fake.push_agent("Sure! Until the order is packed you can change it under Orders → Change address.")
    await expect(page.locator(".sb-other").last).to_contain_text("Change address")
    await page.wait_for_timeout(150)
    await page.screenshot(path=str(OUT / "widget-phone.png"))
    await page.locator(".sb-close").click()
    await expect(page.locator(".sb-launcher")).to_be_visible()
    assert problems == []

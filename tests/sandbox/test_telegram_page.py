"""Browser test of the Telegram emulator's chat page: a customer chats with a PTB bot in headless Chromium."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import Application

from bridge.sandbox.telegram import TelegramEmulator, serve
from tests.support.chromium import OUT

SCREENSHOT = OUT / "telegram-emulator-page.png"

pytestmark = pytest.mark.browser


def tiny_png(width: int = 48, height: int = 32) -> bytes:
    """A valid RGB PNG (Telegram-blue) so the page has a real image to render."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x33\x90\xec" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
async def page_url() -> AsyncIterator[tuple[TelegramEmulator, str]]:
    emulator = TelegramEmulator()
    async with serve(emulator) as url:
        yield emulator, url


async def test_customer_chats_with_the_bot_in_the_page(
    page_url: tuple[TelegramEmulator, str], tmp_path: Path, browser: Browser
) -> None:
    emulator, url = page_url
    picture = tmp_path / "receipt.png"
    picture.write_bytes(tiny_png())
    (tmp_path / "notes.txt").write_text("order 1234")
    bot_app = Application.builder().token(emulator.token).base_url(f"{url}/bot").updater(None).build()
    async with bot_app:
        page = await browser.new_page(viewport={"width": 1100, "height": 720})
        await page.goto(url)
        await page.fill("#first-name", "Siti <script>")
        await page.select_option("#language", "id")
        await page.fill("#chat-id", "5151")
        await page.click(".open-chat")
        await page.fill("#text", "Halo, pesanan saya belum sampai <b>?</b>")
        await page.press("#text", "Enter")
        await emulator.wait_for(lambda: emulator.pending_updates)
        assert emulator.pending_updates[0]["message"]["from"]["language_code"] == "id"

        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(f"{n} ★", callback_data=f"csat:1:{n}") for n in (1, 3, 5)]]
        )
        await bot_app.bot.send_message(5151, "Hi Siti! An agent will be with you shortly.")
        await bot_app.bot.send_message(5151, "How did we do?", reply_markup=keyboard)
        await expect(page.locator(".msg.in .text").last).to_have_text("How did we do?")
        await expect(page.locator(".msg.out .text").first).to_have_text("Halo, pesanan saya belum sampai <b>?</b>")

        await page.set_input_files("#file", str(picture))
        await page.fill("#text", "receipt")
        await page.click("#send")
        await expect(page.locator(".msg.out img")).to_have_count(1)
        await page.get_by_role("button", name="5 ★").click()
        await emulator.wait_for(lambda: any("callback_query" in u for u in emulator.pending_updates))
        await expect(page.locator(".chat-list li.active .chat-name")).to_have_text("Siti <script>")
        await page.set_input_files("#file", str(tmp_path / "notes.txt"))
        await expect(page.locator("#attachment")).to_have_text("Attached: notes.txt")
        await page.screenshot(path=str(SCREENSHOT))
    kinds = [next(k for k in u if k != "update_id") for u in emulator.pending_updates]
    assert kinds == ["message", "message", "callback_query"]

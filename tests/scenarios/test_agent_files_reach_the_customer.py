"""An agent's file in the Slack thread reaches the customer: Telegram gets the file, the widget its name (issue 4)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bridge.attachments import AttachmentUnavailable
from bridge.engine import MESSAGE
from bridge.events import Attachment
from bridge.sandbox.telegram import TelegramEmulator
from channels.slack.files import FILE_URL_SCHEME, SlackFileFetcher, shared_files
from tests.support.harness import BOT_TOKEN, Harness, Widget

CHAT = 81234
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (4).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(25)
PDF = b"%PDF-1.4\n% invoice\n%%EOF\n"


def _emulator(h: Harness) -> TelegramEmulator:
    assert h.telegram is not None
    return h.telegram


async def _thread(h: Harness) -> str:
    """The customer writes first, so the conversation has a thread to answer in."""
    _emulator(h).user_sends(CHAT, "Where is my parcel?", first_name="Siti")
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1)
    root = str(h.slack.channel_messages()[0]["ts"])
    await h.slack.wait_for(lambda: len(h.slack.thread(root)) == 1)
    return root


async def _widget_thread(h: Harness, widget: Widget) -> str:
    await widget.say("Can I have the invoice?", "c1")
    await widget.expect("status")
    return str(h.slack.channel_messages()[-1]["ts"])


async def _sent(telegram: TelegramEmulator, count: int) -> list[dict[str, Any]]:
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) >= count)
    return telegram.sent(CHAT)


async def test_a_photo_is_sent_with_sendphoto_and_the_text_as_caption(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram = _emulator(h)
    root = await _thread(h)
    await h.slack.agent_shares_file("label.png", PNG, thread_ts=root, text="Here is your <shipping> label")
    [sent] = await _sent(telegram, 1)
    assert sent["method"] == "sendPhoto" and sent["chat_id"] == CHAT
    assert sent["caption"] == "Alex:\nHere is your <shipping> label"
    stored = telegram.stored_file(sent["file"]["file_id"])
    assert stored is not None and stored.data == PNG

    [row] = await h.bridge.store.fetch_all(sa.select(MESSAGE.c.attachments).where(MESSAGE.c.author_kind == "agent"))
    [attachment] = row.attachments
    assert attachment["name"] == "label.png" and attachment["media_type"] == "image/png"
    assert attachment["size"] == len(PNG) and attachment["url"].startswith(FILE_URL_SCHEME)


async def test_a_pdf_is_sent_with_senddocument(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram = _emulator(h)
    root = await _thread(h)
    await h.slack.agent_shares_file("invoice.pdf", PDF, thread_ts=root)  # no text: no caption
    [sent] = await _sent(telegram, 1)
    assert sent["method"] == "sendDocument" and sent["caption"] is None
    assert sent["file"]["name"] == "invoice.pdf" and sent["file"]["mime_type"] == "application/pdf"
    stored = telegram.stored_file(sent["file"]["file_id"])
    assert stored is not None and stored.data == PDF


async def test_a_long_text_goes_first_and_the_files_follow_in_order(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram = _emulator(h)
    root = await _thread(h)
    text = "word " * 300  # 1,500 characters: too long for a caption
    await h.slack.agent_shares_file("invoice.pdf", PDF, thread_ts=root, text=text)
    first, second = await _sent(telegram, 2)
    assert first["method"] == "sendMessage" and first["text"].endswith("word")
    assert second["method"] == "sendDocument" and second["caption"] is None


async def test_a_retry_after_a_partial_send_does_not_repeat_the_sent_part(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram = _emulator(h)
    root = await _thread(h)
    telegram.fail_next("sendDocument", chat_id=CHAT, status=429, retry_after=1)  # after the text went out
    await h.slack.agent_shares_file("invoice.pdf", PDF, thread_ts=root, text="word " * 300)
    first, second = await _sent(telegram, 2)
    assert [first["method"], second["method"]] == ["sendMessage", "sendDocument"]
    assert [name for name, _ in telegram.requests].count("sendDocument") == 2  # refused once, then sent
    assert [name for name, _ in telegram.requests].count("sendMessage") == 1


async def test_a_file_too_large_for_telegram_is_named_in_the_text(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram = _emulator(h)
    root = await _thread(h)
    await h.slack.agent_shares_file("backup.zip", bytes(50 * 1024 * 1024 + 1), thread_ts=root, text="The backup")
    [sent] = await _sent(telegram, 1)
    assert sent["method"] == "sendMessage"
    assert sent["text"] == "Alex:\nThe backup\n(a file could not be sent: backup.zip)"
    await h.slack.agent_says("anything else?", thread_ts=root)  # the lane goes on
    await _sent(telegram, 2)


async def test_the_widget_customer_gets_the_file_name(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        root = await _widget_thread(h, widget)
        await h.slack.agent_shares_file("invoice.pdf", PDF, thread_ts=root, text="Attached")
        message = (await widget.expect("message"))["message"]
    assert message["attachments"] == [{"name": "invoice.pdf", "media_type": "application/pdf", "size": len(PDF)}]
    assert message["text"] == "Attached"  # the widget shows the file from ``attachments``, in the visitor's language
    assert "files-pri" not in str(message)


async def test_the_slack_fetcher_needs_the_bot_token_and_refuses_other_hosts(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        event = await h.slack.agent_shares_file(
            "label.png", PNG, thread_ts=await _widget_thread(h, widget), text="//internal copy"
        )
    [attachment] = shared_files(event)
    api_url = h.settings.slack.api_url
    async with aiohttp.ClientSession() as session:
        fetch = SlackFileFetcher(token=BOT_TOKEN, api_url=api_url, session=lambda: session)
        assert await fetch(attachment) == (PNG, "image/png")
        wrong = SlackFileFetcher(token="xoxb-wrong", api_url=api_url, session=lambda: session)
        with pytest.raises(AttachmentUnavailable):  # Slack answers its sign-in page, with a 200
            await wrong(attachment)
        elsewhere = Attachment(name="x", media_type="image/png", size=1, url=f"{FILE_URL_SCHEME}http://evil.test/x")
        with pytest.raises(AttachmentUnavailable):  # the token is never sent to another host
            await fetch(elsewhere)
        small = SlackFileFetcher(token=BOT_TOKEN, api_url=api_url, session=lambda: session, max_bytes=10)
        with pytest.raises(AttachmentUnavailable, match="too large"):
            await small(attachment)

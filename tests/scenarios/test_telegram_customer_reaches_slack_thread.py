"""A Telegram customer's message opens a Slack thread and the agent's reply comes back to the Telegram chat."""

from __future__ import annotations

import sqlalchemy as sa

from bridge.engine import CONVERSATION
from bridge.sandbox.telegram import TelegramEmulator
from tests.support.harness import Harness

CHAT = 81234


def _emulator(h: Harness) -> TelegramEmulator:
    assert h.telegram is not None
    return h.telegram


async def test_telegram_customer_and_slack_agent_talk(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    telegram.user_sends(CHAT, "Halo, pesanan saya <belum> sampai", first_name="Siti", language_code="id")
    await slack.wait_for(lambda: len(slack.channel_messages()) == 1)
    root = slack.channel_messages()[0]
    assert "Siti" in root["text"]
    await slack.wait_for(lambda: len(slack.thread(root["ts"])) == 1)
    assert slack.thread(root["ts"])[0]["text"] == "Halo, pesanan saya &lt;belum&gt; sampai"
    locale = await h.bridge.store.fetch_one(sa.select(CONVERSATION.c.locale))
    assert locale is not None and locale.locale == "id"  # the customer's language_code, negotiated

    await slack.agent_says("Hi Siti, checking <now> & soon", thread_ts=root["ts"])
    await telegram.wait_for(lambda: telegram.sent(CHAT))
    [sent] = telegram.sent(CHAT)
    assert sent["text"].endswith("Hi Siti, checking <now> & soon")
    assert sent["parse_mode"] == "HTML"
    assert telegram.flood_violations.total == 0


async def test_a_long_agent_reply_arrives_split_in_order(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    telegram.user_sends(CHAT, "Please send the full terms")
    await slack.wait_for(lambda: len(slack.channel_messages()) == 1)
    root = slack.channel_messages()[0]
    words = [f"word{i:04d}" for i in range(460)]  # 4,599 characters: more than one Telegram message
    text = " ".join(words)
    assert len(text) > 4097
    await slack.agent_says(text, thread_ts=root["ts"])
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) == 2)
    parts = [item["text"] for item in telegram.sent(CHAT)]
    assert all(len(part) <= 4096 for part in parts)
    header, first = parts[0].split("\n", 1)  # the emulator keeps the plain text: "<b>Alex:</b>" shows as "Alex:"
    assert header.endswith(":")
    assert " ".join([first, *parts[1:]]).split() == words  # nothing lost, no word cut, in order

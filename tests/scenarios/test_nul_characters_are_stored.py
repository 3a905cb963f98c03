"""NUL characters from Telegram or Slack are left out of what is stored instead of failing the insert:
PostgreSQL refuses NUL in text, and a failed row would fail every other customer's message in its group commit."""

from __future__ import annotations

import sqlalchemy as sa

from bridge.engine import CONTACT, MESSAGE
from tests.support.harness import Harness

CHAT = 70001


async def test_nul_in_telegram_text_and_name_and_in_an_agent_reply(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = h.telegram, h.slack
    assert telegram is not None
    telegram.user_sends(CHAT, "order\x00 42 is late", first_name="Ay\x00se")
    await slack.wait_for(lambda: len(slack.channel_messages()) == 1)
    root = slack.channel_messages()[0]
    await slack.wait_for(lambda: len(slack.thread(root["ts"])) == 1)
    assert slack.thread(root["ts"])[0]["text"] == "order 42 is late"

    await slack.agent_says("on its\x00 way", thread_ts=root["ts"])
    await telegram.wait_for(lambda: telegram.sent(CHAT))
    assert telegram.sent(CHAT)[0]["text"].endswith("on its way")

    texts = [row.text for row in await h.bridge.store.fetch_all(sa.select(MESSAGE.c.text).order_by(MESSAGE.c.id))]
    assert "order 42 is late" in texts and "on its way" in texts
    names = [row.display_name for row in await h.bridge.store.fetch_all(sa.select(CONTACT.c.display_name))]
    assert "Ayse" in names

"""A Telegram customer's message opens a Slack thread and the agent's reply comes back to the Telegram chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bridge.app import build_app
from bridge.config import TelegramSettings
from bridge.sandbox.slack import SlackEmulator
from bridge.sandbox.telegram import TelegramEmulator, serve
from bridge.schema import upgrade
from tests.support import harness

TOKEN = "123456:SANDBOX"
SECRET = "scenario-secret"
CHAT = 81234


@pytest.fixture(params=["webhook", "polling"])
async def bridge(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path
) -> AsyncIterator[tuple[TelegramEmulator, SlackEmulator]]:
    telegram = TelegramEmulator(token=TOKEN, webhook_retry_delays=(0.05,))
    async with serve(telegram) as tg_url, harness.running_slack() as (slack, slack_server):
        await upgrade(db_url)
        settings = harness.test_settings(db_url, str(slack_server.make_url("/api/")), tmp_path)
        tg = TelegramSettings(
            bot_token=TOKEN,
            mode=request.param,
            webhook_secret=SECRET,
            api_url=f"{tg_url}/bot",
            file_url=f"{tg_url}/file/bot",
        )
        server = TestServer(build_app(replace(settings, telegram=tg)), host="127.0.0.1")
        await server.start_server()
        slack.events_url = str(server.make_url("/slack/events"))
        if request.param == "webhook":  # what the operator (or SWITCHBOARD_PUBLIC_URL wiring) registers
            hook = {"url": str(server.make_url("/telegram/webhook")), "secret_token": SECRET}
            async with aiohttp.ClientSession() as http, http.post(f"{tg_url}/bot{TOKEN}/setWebhook", json=hook) as resp:
                assert resp.status == 200
        try:
            yield telegram, slack
        finally:
            await server.close()


async def test_telegram_customer_and_slack_agent_talk(bridge: tuple[TelegramEmulator, SlackEmulator]) -> None:
    telegram, slack = bridge
    telegram.user_sends(CHAT, "Halo, pesanan saya <belum> sampai", first_name="Siti", language_code="id")
    await slack.wait_for(lambda: len(slack.channel_messages()) == 1)
    root = slack.channel_messages()[0]
    assert "Siti" in root["text"]
    await slack.wait_for(lambda: len(slack.thread(root["ts"])) == 1)
    assert slack.thread(root["ts"])[0]["text"] == "Halo, pesanan saya &lt;belum&gt; sampai"

    await slack.agent_says("Hi Siti, checking <now> & soon", thread_ts=root["ts"])
    await telegram.wait_for(lambda: telegram.sent(CHAT))
    [sent] = telegram.sent(CHAT)
    assert sent["text"].endswith("Hi Siti, checking <now> & soon")
    assert sent["parse_mode"] == "HTML"
    assert telegram.flood_violations.total == 0

"""The emulators' deletes, as the platforms answer them (used by `switchboard contact erase`): Telegram's
``deleteMessage`` within 48 hours only, Slack's ``files.delete`` of the bot's own files only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot
from telegram.error import BadRequest

from bridge.sandbox.slack import SlackEmulator
from bridge.sandbox.telegram import TelegramEmulator, serve

TOKEN = "123456:SANDBOX"
CHAT = 4242


@pytest.fixture
def telegram() -> TelegramEmulator:
    return TelegramEmulator(token=TOKEN)


@pytest.fixture
async def bot(telegram: TelegramEmulator) -> AsyncIterator[Bot]:
    async with serve(telegram) as url, Bot(TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot") as bot:
        yield bot


async def test_telegram_deletes_recent_messages_and_refuses_old_or_missing_ones(
    bot: Bot, telegram: TelegramEmulator
) -> None:
    telegram.user_sends(CHAT, "hello")
    sent = await bot.send_message(CHAT, "hi there")
    old = await bot.send_message(CHAT, "from long ago")
    telegram.message(CHAT, old.message_id)["date"] -= 48 * 3600 + 1

    assert await bot.delete_message(CHAT, sent.message_id) is True
    assert await bot.delete_message(CHAT, 1) is True  # the customer's own, in a private chat
    with pytest.raises(BadRequest, match="can't be deleted for everyone"):
        await bot.delete_message(CHAT, old.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)
    assert [m["message_id"] for m in telegram.transcript(CHAT)["messages"]] == [old.message_id]


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret="s")
    await emulator.start()
    emulator.events_url, emulator.retry_delays = f"{emulator.base_url}/no-app-here", (0.0,)  # no app: events go nowhere
    yield emulator
    await emulator.stop()


async def test_slack_deletes_the_bots_files_only(slack: SlackEmulator) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    root = await client.chat_postMessage(channel=slack.support_channel, text="card")
    await client.files_upload_v2(
        content=b"PNG bytes", filename="photo.png", channel=slack.support_channel, thread_ts=root["ts"]
    )
    [ours] = [f for f in slack.files.values() if f["user"] == slack.bot_user_id]
    theirs = await slack.agent_shares_file("notes.txt", b"agent's", thread_ts=root["ts"])

    await client.files_delete(file=ours["id"])
    with pytest.raises(SlackApiError) as refused:
        await client.files_delete(file=theirs["files"][0]["id"])
    assert refused.value.response["error"] == "cant_delete_file"
    with pytest.raises(SlackApiError) as missing:
        await client.files_delete(file=ours["id"])
    assert missing.value.response["error"] == "file_not_found"

    shared = [m for m in slack.thread(root["ts"]) if m.get("bot_id")]
    assert shared[0]["files"] == [{"id": ours["id"], "mode": "tombstone"}] and ours["id"] not in slack.file_bytes

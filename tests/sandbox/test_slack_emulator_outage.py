"""The Slack emulator's Events API outage, and ``conversations.replies`` read from ``oldest`` on, with the real
slack_sdk client and a real bolt AsyncApp."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bridge.sandbox.slack import SlackEmulator
from tests.support.bolt_server import serving_bolt

SECRET = "test-signing-secret"
TOKEN = "xoxb-sandbox"
SUPPORT = "C0SUPPORT"


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SECRET, bot_token=TOKEN, support_channel=SUPPORT)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=emulator.api_url)


async def test_an_events_outage_drops_events_for_good_while_the_web_api_works(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    seen: list[str] = []
    async with serving_bolt(emulator, SECRET, client) as bolt:
        _record_messages(bolt, seen)
        root = str((await client.chat_postMessage(channel=SUPPORT, text="a card"))["ts"])
        await emulator.drain()
        emulator.events_outage()
        await emulator.agent_says("lost", thread_ts=root)
        await emulator.agent_says("lost too", thread_ts=root, copies=3)
        assert [m["text"] for m in emulator.thread(root)] == ["lost", "lost too"]  # posted in Slack
        replies = await client.conversations_replies(channel=SUPPORT, ts=root)
        assert [m["text"] for m in replies["messages"]] == ["a card", "lost", "lost too"]
        emulator.recover()
        await emulator.agent_says("after", thread_ts=root)
        await asyncio.sleep(0.1)
    assert seen == ["after"], "an event of the outage was delivered (or replayed after it)"
    assert [e["event"]["text"] for e in emulator.dropped_events] == ["lost", "lost too"]
    assert not [d for d in emulator.deliveries if d.event_id in {e["event_id"] for e in emulator.dropped_events}]


async def test_conversations_replies_reads_from_oldest_with_the_parent_first(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    emulator.echo_bot_messages = False
    root = str((await client.chat_postMessage(channel=SUPPORT, text="a card"))["ts"])
    ts = [str((await client.chat_postMessage(channel=SUPPORT, thread_ts=root, text=f"r{n}"))["ts"]) for n in range(4)]

    async def texts(**bounds: Any) -> list[str]:
        page = await client.conversations_replies(channel=SUPPORT, ts=root, **bounds)
        return [m["text"] for m in page["messages"]]

    assert await texts(oldest=ts[1]) == ["a card", "r2", "r3"]
    assert await texts(oldest=ts[1], inclusive=True) == ["a card", "r1", "r2", "r3"]
    assert await texts(oldest=ts[0], latest=ts[3]) == ["a card", "r1", "r2"]


def _record_messages(bolt: AsyncApp, seen: list[str]) -> None:
    @bolt.event("message")
    async def message(event: dict[str, Any]) -> None:
        if not event.get("bot_id"):
            seen.append(str(event.get("text")))

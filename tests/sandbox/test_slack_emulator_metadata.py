"""The Slack emulator's message metadata, as Slack has it: stored with a post, read back only on request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.sandbox.slack import SlackEmulator

TOKEN = "xoxb-sandbox"
CHANNEL = "C0SUPPORT"
METADATA = {"event_type": "task_created", "event_payload": {"id": "TK-2132", "priority": "HIGH"}}


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret="s", bot_token=TOKEN, support_channel=CHANNEL)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def client(slack: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url)


async def test_metadata_is_read_back_only_with_include_all_metadata(client: AsyncWebClient) -> None:
    root = (await client.chat_postMessage(channel=CHANNEL, text="root", metadata=METADATA))["ts"]
    await client.chat_postMessage(channel=CHANNEL, thread_ts=root, text="reply", metadata=METADATA)

    plain = await client.conversations_replies(channel=CHANNEL, ts=root)
    assert [m.get("metadata") for m in plain["messages"]] == [None, None]
    full = await client.conversations_replies(channel=CHANNEL, ts=root, include_all_metadata=True)
    assert [m["metadata"] for m in full["messages"]] == [METADATA, METADATA]
    history = await client.conversations_history(channel=CHANNEL, include_all_metadata=True)
    assert history["messages"][0]["metadata"] == METADATA
    assert "metadata" not in (await client.conversations_history(channel=CHANNEL))["messages"][0]


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ("not json", "invalid_metadata_format"),
        ('["a list"]', "invalid_metadata_format"),
        ({"event_payload": {}}, "invalid_metadata_schema"),
        ({"event_type": "x", "event_payload": "not an object"}, "invalid_metadata_schema"),
    ],
)
async def test_malformed_metadata_is_refused(client: AsyncWebClient, metadata: object, error: str) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=CHANNEL, text="x", metadata=metadata)  # type: ignore[arg-type]
    assert refused.value.response["error"] == error


async def test_answer_late_takes_effect_before_the_answer(slack: SlackEmulator, client: AsyncWebClient) -> None:
    slack.answer_late("chat.postMessage", 0.5)
    posting = asyncio.create_task(client.chat_postMessage(channel=CHANNEL, text="accepted"))
    await slack.wait_for(lambda: len(slack.channel_messages()) == 1, timeout=2)
    assert not posting.done(), "the answer came with the effect"
    assert (await posting)["ts"] == slack.channel_messages()[0]["ts"]

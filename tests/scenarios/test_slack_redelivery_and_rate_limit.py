"""Slack retries never duplicate an agent reply, and Slack's 429s delay deliveries without losing any."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from bridge.engine import DELIVERY, MESSAGE
from tests.support.harness import Harness


async def test_same_event_four_times_gives_one_message_and_one_delivery(harness: Harness) -> None:
    """Slack redelivers an event (same event_id) up to 3 times; two copies may arrive within 10 ms."""
    async with harness.widget(name="Dee") as widget:
        await widget.say("first", "c1")
        await widget.expect("status")
        root = harness.slack.channel_messages()[0]["ts"]
        await harness.slack.agent_says("only once please", thread_ts=root, copies=4)
        frame = await widget.expect("message")
        assert frame["message"]["text"] == "only once please"
        await harness.slack.drain()
        await asyncio.sleep(0.2)  # give a wrongly duplicated delivery the time to show up

    rows = await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.id).where(MESSAGE.c.text == "only once please"))
    assert len(rows) == 1
    deliveries = await harness.bridge.store.fetch_all(
        sa.select(DELIVERY.c.id).where(DELIVERY.c.message_id == rows[0].id)
    )
    assert len(deliveries) == 1
    assert [f for f in widget.seen if f["type"] == "message"] == [frame]


async def test_bots_own_thread_messages_are_not_echoed_back(harness: Harness) -> None:
    async with harness.widget(name="Eve") as widget:
        await widget.say("first", "c1")
        await widget.expect("status")
    await harness.slack.drain()
    agent_rows = await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.id).where(MESSAGE.c.direction == "out"))
    assert agent_rows == []


async def test_rate_limited_posts_wait_retry_after_and_keep_order(harness: Harness) -> None:
    async with harness.widget(name="Dee") as widget:
        await widget.say("first", "c0")
        await widget.expect("status")
        harness.slack.fail_next("chat.postMessage", count=1, status=429, retry_after=1)
        for n in range(5):
            await widget.say(f"message {n}", f"m{n}")
        for _ in range(5):
            await widget.expect("status", timeout=15)

    root = harness.slack.channel_messages()[0]["ts"]
    assert [m["text"] for m in harness.slack.thread(root)] == ["first"] + [f"message {n}" for n in range(5)]
    posts = [c for c in harness.slack.calls_to("chat.postMessage") if c.params.get("text") == "message 0"]
    assert len(posts) == 2, "expected the 429 and one retry"
    assert posts[1].at - posts[0].at >= 1.0, "the retry came before Retry-After"

"""A widget customer's message opens a Slack thread; the agent's reply comes back to the widget."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import channels.web.channel as web_channel
from tests.support.harness import Harness


async def test_customer_message_opens_thread_with_card_and_message(harness: Harness) -> None:
    async with harness.widget(name="Ana", page_url="https://shop.example/help", locale="en") as widget:
        ack = await widget.say("Where is my order?", "c1")
        assert ack["status"] == "sent" and isinstance(ack["id"], int)
        status = await widget.expect("status")
        assert status == {"type": "status", "id": ack["id"], "status": "delivered"}

    roots = harness.slack.channel_messages()
    assert len(roots) == 1
    card = roots[0]
    assert "Ana" in card["text"] and card["blocks"][0]["type"] == "header"
    thread = harness.slack.thread(card["ts"])
    assert [m["text"] for m in thread] == ["Where is my order?"]


async def test_agent_reply_reaches_widget_and_note_does_not(harness: Harness) -> None:
    async with harness.widget(name="Ben") as widget:
        await widget.say("Hello?", "c1")
        await widget.expect("status")
        root = harness.slack.channel_messages()[0]
        await harness.slack.agent_says("// customer seems upset", thread_ts=root["ts"])
        await harness.slack.agent_says("Hi Ben, how can I help?", thread_ts=root["ts"])
        frame = await widget.expect("message")
        assert frame["message"]["text"] == "Hi Ben, how can I help?"
        assert frame["message"]["author"] == "agent"
        assert not [f for f in widget.seen if f["type"] == "message" and "upset" in f["message"]["text"]]


async def test_acks_come_in_order_and_before_delivered(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pipelined messages: acks follow frame order, and no "delivered" overtakes the "sent" ack it belongs to.

    Without the ack barrier the outbox could post to Slack and push "delivered" before the socket's
    acker had sent "sent" (seen under load), leaving the widget unable to match the status to its
    message. A slow event loop is simulated by making the acker notice each commit 0.2 s late.
    """
    notice = web_channel._done

    def late(task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = loop.create_future()
        notice(task, loop).add_done_callback(lambda _f: loop.call_later(0.2, waiter.set_result, None))
        return waiter

    monkeypatch.setattr(web_channel, "_done", late)
    async with harness.widget(name="Pip") as widget:
        for n in range(30):
            await widget.send({"type": "message", "client_id": f"p{n}", "text": f"pipelined {n}"})
        frames: list[dict[str, object]] = []
        while sum(1 for f in frames if f["type"] == "status") < 30:
            frames.append(await widget.expect_any())
    acks = [f for f in frames if f["type"] == "ack"]
    assert [a["client_id"] for a in acks] == [f"p{n}" for n in range(30)]
    position = {(f["type"], f.get("id")): i for i, f in enumerate(frames)}
    for ack in acks:
        assert position[("ack", ack["id"])] < position[("status", ack["id"])]


async def test_a_widget_that_takes_ack_batches_gets_the_acks_of_one_commit_in_one_frame(harness: Harness) -> None:
    async with harness.widget(name="Pip", ack_batches=True) as widget:
        await widget.say("hello", "opening")  # the conversation is open: the next messages take the hot path
        await widget.expect("status")
        for n in range(40):  # sent together: they are committed together
            await widget.send({"type": "message", "client_id": f"b{n}", "text": f"batched {n}"})
        frames: list[dict[str, Any]] = []
        while sum(1 for f in frames if f["type"] == "status") < 40:
            frames.append(await widget.expect_any())

    batches = [f["acks"] for f in frames if f["type"] == "acks"]
    assert batches and all(len(batch) > 1 for batch in batches)
    acks = [ack for f in frames if f["type"] in ("ack", "acks") for ack in (f["acks"] if f["type"] == "acks" else [f])]
    assert [a["client_id"] for a in acks] == [f"b{n}" for n in range(40)]
    assert all(a["type"] == "ack" and a["status"] == "sent" for a in acks)
    ids = [a["id"] for a in acks]
    assert ids == sorted(ids)
    first_status = min(i for i, f in enumerate(frames) if f["type"] == "status")
    last_ack = max(i for i, f in enumerate(frames) if f["type"] in ("ack", "acks"))
    assert any(f["type"] == "acks" for f in frames[:first_status]) or last_ack < first_status


async def test_messages_sent_together_before_the_conversation_exists_keep_their_order(harness: Harness) -> None:
    async with harness.widget(name="Quick") as widget:
        for n in range(25):  # the first one opens the conversation; the others must not overtake it
            await widget.send({"type": "message", "client_id": f"q{n}", "text": f"quick {n}"})
        acks = [await widget.expect("ack") for _ in range(25)]

    assert [a["client_id"] for a in acks] == [f"q{n}" for n in range(25)]
    ids = [a["id"] for a in acks]
    assert ids == sorted(ids)
    await harness.slack.wait_for(lambda: len(harness.slack.channel_messages()) == 1)
    [root] = harness.slack.channel_messages()
    await harness.slack.wait_for(lambda: len(harness.slack.thread(root["ts"])) == 25)
    assert [m["text"] for m in harness.slack.thread(root["ts"])] == [f"quick {n}" for n in range(25)]

"""A widget customer's message opens a Slack thread; the agent's reply comes back to the widget."""

from __future__ import annotations

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

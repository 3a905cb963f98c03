"""A restarted bridge keeps every conversation: the widget gets its history back, threads keep working."""

from __future__ import annotations

from pathlib import Path

from tests.support.harness import running_bridge, running_slack


async def test_history_and_threads_survive_a_restart(db_url: str, tmp_path: Path) -> None:
    async with running_slack() as (slack, slack_server):
        async with running_bridge(db_url, tmp_path, slack, slack_server) as first:
            async with first.widget(name="Fay") as widget:
                session = widget.welcome["session"]
                await widget.say("before restart", "c1")
                await widget.expect("status")
                root = slack.channel_messages()[0]["ts"]
                await slack.agent_says("agent before restart", thread_ts=root)
                await widget.expect("message")

        async with running_bridge(db_url, tmp_path, slack, slack_server) as second:
            async with second.widget(name="Fay", session=session) as widget:
                history = [(m["author"], m["text"], m["status"]) for m in widget.welcome["messages"]]
                assert history == [("customer", "before restart", "delivered"), ("agent", "agent before restart", None)]
                last = widget.welcome["messages"][-1]["id"]
                await slack.agent_says("agent after restart", thread_ts=root)
                frame = await widget.expect("message")
                assert frame["message"]["text"] == "agent after restart" and frame["message"]["id"] > last
                await widget.say("after restart", "c2")
                await widget.expect("status")
            assert len(slack.channel_messages()) == 1, "the conversation must stay in its thread"
            assert [m["text"] for m in slack.thread(root)][-1] == "after restart"


async def test_reconnect_replays_only_missed_messages_in_order(db_url: str, tmp_path: Path) -> None:
    async with running_slack() as (slack, slack_server), running_bridge(db_url, tmp_path, slack, slack_server) as h:
        async with h.widget(name="Gus") as widget:
            session = widget.welcome["session"]
            first = await widget.say("hi", "c1")
            await widget.expect("status")
        root = slack.channel_messages()[0]["ts"]
        for n in range(3):
            await slack.agent_says(f"while away {n}", thread_ts=root)
        await slack.drain()
        async with h.widget(name="Gus", session=session, last_seen=first["id"]) as widget:
            texts = [m["text"] for m in widget.welcome["messages"]]
            assert texts == ["while away 0", "while away 1", "while away 2"]

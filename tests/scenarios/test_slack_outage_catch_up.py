"""Agents' thread replies whose Slack event never came still reach the customer (reliability target C14).

Slack retries an event three times within about six minutes and then drops it; in an incident it replays nothing,
and a bridge that is down gets nothing. Without the catch-up (``channels/slack/catch_up.py``) such a reply stays in
Slack and the customer never sees it: each test below then fails on the customer's missing messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge.events import ChannelKind
from bridge.model import utcnow
from bridge.sandbox.slack import RecordedCall, SlackEmulator
from channels.slack.catch_up import CatchUp
from channels.slack.channel import SlackChannel
from tests.support.harness import Harness, Widget, running_bridge, running_slack

CUSTOMERS = 10
LIVE, IN_OUTAGE = 3, 7  # replies per thread before and during the outage: 10 x (3 + 7) = 100
TIER_3 = 50  # conversations.replies calls a minute (Slack's Tier 3)
QUIET = 0.5  # seconds to wait for a message that must not come


def _root(slack: SlackEmulator, name: str) -> str:
    """The thread of ``name``'s conversation (its card says "Conversation with <name>: ...")."""
    return next(m["ts"] for m in slack.channel_messages() if f"Conversation with {name}:" in m["text"])


def _catch_up(h: Harness) -> CatchUp:
    channel = h.bridge.channels[ChannelKind.SLACK]
    assert isinstance(channel, SlackChannel) and channel.catch_up is not None
    return channel.catch_up


async def _agent_texts(widget: Widget, count: int, timeout: float = 10.0) -> list[str]:  # noqa: ASYNC109
    """The texts of the next ``count`` agent messages the customer gets."""
    texts: list[str] = []
    while len(texts) < count:
        frame = await widget.expect("message", timeout=timeout)
        if frame["message"]["author"] == "agent":
            texts.append(frame["message"]["text"])
    return texts


async def _no_more_messages(widgets: Sequence[Widget]) -> None:
    """Nothing else reaches any customer (a reply delivered twice, a note leaking out)."""
    for widget in widgets:
        with contextlib.suppress(TimeoutError):
            frame = await widget.expect("message", timeout=QUIET / len(widgets))
            raise AssertionError(f"unexpected message: {frame}")


def _busiest_minute(calls: Sequence[RecordedCall]) -> int:
    """The most calls in any 60 s window."""
    times = sorted(call.at for call in calls)
    return max((sum(1 for t in times[i:] if t - start < 60.0) for i, start in enumerate(times)), default=0)


async def _count(h: Harness, query: str) -> int:
    row = await h.bridge.store.fetch_one(sa.text(query))
    assert row is not None
    return int(row[0])


async def _until(h: Harness, query: str, expected: int) -> None:
    for _ in range(500):
        if await _count(h, query) == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{query} never gave {expected}")


async def test_replies_an_events_outage_dropped_reach_each_customer_once_in_order(db_url: str, tmp_path: Path) -> None:
    """C14: 100 replies across 10 threads, 70 of them while Slack delivers no events; a catch-up after recovery
    delivers every one to its customer, in thread order, none twice, within Tier 3; an internal note stays in."""
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server) as h,
        contextlib.AsyncExitStack() as stack,
    ):
        widgets = [await stack.enter_async_context(h.widget(name=f"Customer {n}")) for n in range(CUSTOMERS)]
        for n, widget in enumerate(widgets):
            await widget.say(f"Customer {n} needs help", f"c{n}")
            await widget.expect("status")
        roots = [_root(slack, f"Customer {n}") for n in range(CUSTOMERS)]
        replies = [[f"reply {k} to customer {n}" for k in range(LIVE + IN_OUTAGE)] for n in range(CUSTOMERS)]

        for k in range(LIVE):  # these arrive live
            for n, root in enumerate(roots):
                await slack.agent_says(replies[n][k], thread_ts=root)
        received = [await _agent_texts(widget, LIVE) for widget in widgets]

        slack.events_outage()
        await slack.agent_says("// customer 0 asked for a refund twice", thread_ts=roots[0])
        for k in range(LIVE, LIVE + IN_OUTAGE):
            for n, root in enumerate(roots):
                await slack.agent_says(replies[n][k], thread_ts=root)
        assert len(slack.dropped_events) == CUSTOMERS * IN_OUTAGE + 1
        await _no_more_messages(widgets)  # the events are gone: nothing reaches the customers by itself

        slack.recover()
        assert await _catch_up(h).sweep() == CUSTOMERS * IN_OUTAGE + 1  # the 70 replies and the note
        for n, widget in enumerate(widgets):
            received[n] += await _agent_texts(widget, IN_OUTAGE)
        assert received == replies

        await h.settled()
        await _no_more_messages(widgets)
        assert await _count(h, "SELECT count(*) FROM message WHERE author_kind = 'agent'") == CUSTOMERS * (
            LIVE + IN_OUTAGE
        )
        assert await _count(h, "SELECT count(*) FROM message WHERE author_kind = 'note'") == 1
        assert await _count(h, "SELECT count(*) FROM delivery WHERE target_channel = 'web'") == CUSTOMERS * (
            LIVE + IN_OUTAGE
        )

        assert _busiest_minute(slack.calls_to("conversations.replies")) <= TIER_3


async def test_replies_posted_while_the_bridge_was_down_are_delivered_once_after_it_starts(
    db_url: str, tmp_path: Path
) -> None:
    """Slack gives up on a bridge that is down; the bridge reads the thread when it starts again, and what it finds
    takes the live path: a note stays internal, ``!canned`` sends the answer in the customer's language."""
    async with running_slack() as (slack, slack_server):
        slack.retry_delays = (0.0, 0.0, 0.0)  # Slack's retries (1 and 5 minutes apart in reality) all fail too
        async with running_bridge(db_url, tmp_path, slack, slack_server) as first:
            async with first.widget(name="Fay") as widget:
                session = widget.welcome["session"]
                await widget.say("anyone there?", "c1")
                await widget.expect("status")
                root = _root(slack, "Fay")
                await slack.agent_says("before the restart", thread_ts=root)
                frame = await widget.expect("message")
                assert frame["message"]["text"] == "before the restart"
                last_seen = frame["message"]["id"]

        down = [
            "while you were away 1",
            "// she is a returning customer",
            "!canned order_status order=A-42",
            "while you were away 2",
            "and 3",
        ]
        for text in down:
            await slack.agent_says(text, thread_ts=root)
        assert len(slack.deliveries) >= 4 * len(down) and slack.deliveries[-1].status is None  # never connected

        async with running_bridge(db_url, tmp_path, slack, slack_server) as second:
            await slack.wait_for(lambda: _catch_up(second).sweeps >= 1)  # the sweep at start
            assert await _catch_up(second).sweep() == 0, "a second sweep must find nothing new"
            await second.settled()
            async with second.widget(name="Fay", session=session, last_seen=last_seen) as widget:
                texts = [m["text"] for m in widget.welcome["messages"] if m["author"] == "agent"]
                canned = "I'm checking order A-42 for you now."
                assert texts == ["while you were away 1", canned, "while you were away 2", "and 3"]
                await _no_more_messages([widget])
            assert await _count(second, "SELECT count(*) FROM message WHERE author_kind = 'agent'") == 5
            # the agent's note, and the bridge's own note in the thread on what the canned answer said
            assert await _count(second, "SELECT count(*) FROM message WHERE author_kind = 'note'") == 2


async def test_the_catch_up_repeats_on_its_own_waits_out_a_429_and_logs_what_it_found(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SWITCHBOARD_SLACK_CATCH_UP_MINUTES (here a fraction of a second): no sweep needs asking for; a rate-limited
    read is asked again only after its Retry-After; a sweep that found something says so in one line."""
    caplog.set_level(logging.INFO, logger="switchboard.slack.catch_up")
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, slack_catch_up_every=timedelta(seconds=0.2)) as h,
        h.widget(name="Gil") as widget,
    ):
        await widget.say("is my parcel lost?", "c1")
        await widget.expect("status")
        slack.events_outage()
        limited = len(slack.calls_to("conversations.replies"))  # the next read is refused: 429, Retry-After: 1
        slack.fail_next("conversations.replies", retry_after=1)
        await slack.agent_says("No, it is in Vilnius now", thread_ts=_root(slack, "Gil"))
        assert await _agent_texts(widget, 1) == ["No, it is in Vilnius now"]
        sweeps = _catch_up(h).sweeps
        await slack.wait_for(lambda: _catch_up(h).sweeps > sweeps + 1, timeout=10)
        await _no_more_messages([widget])
    calls = slack.calls_to("conversations.replies")
    assert calls[limited + 1].at - calls[limited].at >= 1.0, "a read came before the 429's Retry-After"
    found = [r.getMessage() for r in caplog.records if r.name == "switchboard.slack.catch_up"]
    assert found == [
        "slack catch-up: conversations.replies is rate limited for 0:00:01",
        "slack catch-up: agent replies caught up: 1 (in 1 of 1 threads)",
    ]


async def test_a_resolved_conversations_thread_is_read_for_24_hours_then_left_alone(
    db_url: str, tmp_path: Path
) -> None:
    """An agent's last word after Close reaches the customer (live it would too); a day after Close the thread is
    no longer read, so idle threads do not use up the rate tier."""
    now = [utcnow()]
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, clock=lambda: now[0]) as h,
        h.widget(name="Hal") as widget,
    ):
        await widget.say("thanks, that was all", "c1")
        await widget.expect("status")
        root = _root(slack, "Hal")
        await slack.click_button(root, "desk_close", user="U0AGENT1")
        await _until(h, "SELECT count(*) FROM conversation WHERE status = 'resolved'", 1)
        slack.events_outage()

        await slack.agent_says("P.S. your refund is on its way", thread_ts=root)
        now[0] += timedelta(hours=23)
        assert await _catch_up(h).sweep() == 1
        assert await _agent_texts(widget, 1) == ["P.S. your refund is on its way"]

        await slack.agent_says("P.P.S. (too late)", thread_ts=root)
        now[0] += timedelta(hours=2)
        reads = len(slack.calls_to("conversations.replies"))
        assert await _catch_up(h).sweep() == 0
        assert len(slack.calls_to("conversations.replies")) == reads

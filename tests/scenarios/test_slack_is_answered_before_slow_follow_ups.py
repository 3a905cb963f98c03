"""Slack gets its 2xx before the follow-up Slack calls (DESIGN.md: store, ack, then process).

Bolt runs with ``process_before_response=True``: Slack is answered only when a listener returns, and it retries
events not answered within 3 s (duplicates) and shows an error for a slow interaction. Here the emulator answers one
Web API call late (``delay_next``): the event or click must still be answered at once, and the follow-up (the Home
view, the card update, the transcript upload) must still happen afterwards.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from bridge.model import utcnow
from bridge.routing import AGENT
from channels.slack import background
from channels.slack.home import AVAILABLE
from tests.scenarios.test_after_hours_marked_for_the_morning import NOTE as AFTER_HOURS_NOTE
from tests.scenarios.test_after_hours_marked_for_the_morning import card, closed_until, marks, thread_of
from tests.scenarios.test_new_conversations_are_routed_to_available_agents import customer
from tests.scenarios.test_transcripts import _conversation
from tests.support.harness import Harness, running_bridge, running_slack

ALEX = "U0AGENT1"
SLOW = 2.0  # how late the emulator answers the follow-up call
QUICK = 1.0  # Slack's answer must come well before the slow call is done
T = TypeVar("T")


async def timed(call: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


def home_text(h: Harness, user: str) -> str:
    view = h.slack.home_view(user)
    assert view is not None
    return json.dumps(view["blocks"], ensure_ascii=False)


async def test_app_home_opened_is_answered_before_views_publish(harness: Harness) -> None:
    h = harness
    h.slack.delay_next("views.publish", SLOW)

    (status, _), elapsed = await timed(h.slack.open_home(ALEX))

    assert status == 200 and elapsed < QUICK, elapsed
    assert h.slack.home_view(ALEX) is None  # views.publish is still on its way
    await h.slack.wait_for(lambda: h.slack.home_view(ALEX) is not None, timeout=SLOW + 5)
    assert "Support stats: the last 30 days" in home_text(h, ALEX)
    assert [d.retry_num for d in h.slack.deliveries if d.kind == "event"] == [0]


async def test_home_toggle_stores_at_once_and_publishes_afterwards(harness: Harness) -> None:
    h = harness
    await h.slack.open_home(ALEX)
    await h.slack.wait_for(lambda: h.slack.home_view(ALEX) is not None)
    view = h.slack.home_view(ALEX)
    assert view is not None
    h.slack.delay_next("views.publish", SLOW)

    (status, _), elapsed = await timed(h.slack.click_view_button(view["id"], AVAILABLE, user=ALEX))

    assert status == 200 and elapsed < QUICK, elapsed
    row = await h.bridge.store.fetch_one(sa.select(AGENT.c.available).where(AGENT.c.slack_user_id == ALEX))
    assert row is not None and row.available  # stored before Slack got its answer
    await h.slack.wait_for(lambda: "🟢 *Available*" in home_text(h, ALEX), timeout=SLOW + 5)


async def test_export_is_answered_before_the_upload_completes(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana", locale="es") as ana:
        ts = await _conversation(h, ana)
        h.slack.delay_next("files.completeUploadExternal", SLOW)

        (status, _), elapsed = await timed(h.slack.click_button(ts, "desk_export", user=ALEX))

        assert status == 200 and elapsed < QUICK, elapsed
        assert not any(m.get("files") for m in h.slack.thread(ts))
        await h.slack.wait_for(lambda: any(m.get("files") for m in h.slack.thread(ts)), timeout=SLOW + 5)
        [shared] = [m for m in h.slack.thread(ts) if m.get("files")]
        assert shared["text"].startswith(f"<@{ALEX}> exported conversation #")


async def test_agent_reply_is_answered_before_the_card_loses_its_after_hours_mark(db_url: str, tmp_path: Path) -> None:
    opening = utcnow().date() + timedelta(days=2)
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, hours=closed_until(opening)) as h,
        AsyncExitStack() as stack,
    ):
        await customer(stack, h, "Ana", "Anyone there?")
        await slack.wait_for(lambda: any(t.startswith(AFTER_HOURS_NOTE) for t in thread_of(h, "Ana")))
        await slack.wait_for(lambda: bool(marks(h, "Ana")))
        slack.delay_next("chat.update", SLOW)
        events_before = len([d for d in slack.deliveries if d.kind == "event"])

        reply: Any
        reply, elapsed = await timed(slack.agent_says("Good morning Ana, I'm on it", thread_ts=card(h, "Ana")["ts"]))

        assert reply["text"] and elapsed < QUICK, elapsed
        assert marks(h, "Ana")  # chat.update is still on its way
        await slack.wait_for(lambda: not marks(h, "Ana"), timeout=SLOW + 5)
        retried = [d for d in slack.deliveries[events_before:] if d.kind == "event" and d.retry_num]
        assert retried == []


async def test_stopping_the_bridge_cancels_follow_ups_still_running(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(background, "GRACE", 0.2)
    async with running_slack() as (slack, slack_server):
        async with running_bridge(db_url, tmp_path, slack, slack_server):
            slack.delay_next("views.publish", 3.0)
            (status, _), elapsed = await timed(slack.open_home(ALEX))
            assert status == 200 and elapsed < QUICK, elapsed
            await slack.wait_for(lambda: bool(slack.calls_to("views.publish")))
            caplog.set_level(logging.WARNING, logger="switchboard.slack.background")
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 2.5  # the grace period, not the slow call
        cancelled = [r.getMessage() for r in caplog.records if r.name == "switchboard.slack.background"]
        assert len(cancelled) == 1 and cancelled[0].startswith("slack: stopping, cancelled ")


async def test_a_card_button_is_answered_before_the_card_is_updated(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ana") as widget:
        await widget.say("Where is my order?", "c1")
        await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1)
        ts = str(h.slack.channel_messages()[0]["ts"])

        h.slack.delay_next("chat.update", SLOW)
        (status, _), elapsed = await timed(h.slack.click_button(ts, "desk_claim", user=ALEX))

        assert status == 200 and elapsed < QUICK, elapsed  # the claim is stored; the card follows
        await h.slack.wait_for(lambda: "Alex claimed" in json.dumps(h.slack.thread(ts)), timeout=SLOW + 5)
        card_text = json.dumps(h.slack.channel_messages()[0]["blocks"])
        assert f"<@{ALEX}>" in card_text

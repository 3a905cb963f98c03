"""A bridge behind a firewall: SLACK_APP_TOKEN, and Slack reaches it over Socket Mode, never over HTTP.

The emulator has no ``events_url`` here: every event, button click, modal submission and slash command reaches the
bridge as an envelope on the WebSocket it opened (``apps.connections.open``), and goes through the same bolt
listeners as over ``POST /slack/events``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bridge.engine import MESSAGE
from channels.base import ChannelStartupError
from tests.support.harness import SUPPORT, Harness, running_bridge, running_slack

ALEX = "U0AGENT1"


@pytest.fixture
async def socket_harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, socket_mode=True) as h,
    ):
        yield h


async def _thread(h: Harness) -> str:
    """The root ts of the thread the widget customer's first message opened."""
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1)
    return str(h.slack.channel_messages()[0]["ts"])


async def _stored(h: Harness, text: str) -> int:
    row = await h.bridge.store.fetch_one(sa.select(sa.func.count()).where(MESSAGE.c.text == text))
    assert row is not None
    return int(row[0])


async def test_a_widget_message_opens_a_thread_and_agents_answer_over_the_socket(socket_harness: Harness) -> None:
    h = socket_harness
    assert h.slack.events_url is None and h.slack.socket_mode.connected == 1
    async with h.widget(name="Ana", locale="en") as widget:
        await widget.say("Where is my order?", "c1")
        await widget.expect("status")
        root = await _thread(h)
        assert "Ana" in h.slack.channel_messages()[0]["text"]
        assert [m["text"] for m in h.slack.thread(root)] == ["Where is my order?"]

        await h.slack.agent_says("// she ordered twice", thread_ts=root)
        await h.slack.agent_says("Hi Ana, it ships today.", thread_ts=root)
        frame = await widget.expect("message")

    assert frame["message"]["text"] == "Hi Ana, it ships today." and frame["message"]["author"] == "agent"
    assert not [f for f in widget.seen if f["type"] == "message" and "twice" in f["message"]["text"]]
    assert await _stored(h, "she ordered twice") == 1  # the note is kept, internal
    events = [e for e in h.slack.socket_mode.envelopes if e["type"] == "events_api"]
    assert {e["payload"]["event"].get("text") for e in events} >= {"// she ordered twice", "Hi Ana, it ships today."}
    assert all(e["envelope_id"] in {a["envelope_id"] for a in h.slack.socket_mode.acks} for e in events)
    async with aiohttp.ClientSession() as session, session.post(h.url("/slack/events"), data=b"{}") as resp:
        assert resp.status == 404  # not mounted: in Socket Mode Slack sends nothing there


async def test_the_same_event_redelivered_is_stored_and_delivered_once(socket_harness: Harness) -> None:
    h = socket_harness
    async with h.widget(name="Ben") as widget:
        await widget.say("Hello?", "c1")
        await widget.expect("status")
        root = await _thread(h)

        await h.slack.agent_says("Hello Ben!", thread_ts=root, copies=3)  # the first delivery, then two retries
        await widget.expect("message")
        await h.settled()

    copies = [e for e in h.slack.socket_mode.envelopes if e["payload"].get("event", {}).get("text") == "Hello Ben!"]
    assert [e["retry_attempt"] for e in copies] == [0, 1, 2]
    assert [e["retry_reason"] for e in copies] == ["", "timeout", "timeout"]
    assert len({e["payload"]["event_id"] for e in copies}) == 1
    assert await _stored(h, "Hello Ben!") == 1
    assert [f["message"]["text"] for f in widget.seen if f["type"] == "message"] == ["Hello Ben!"]


async def test_a_malformed_envelope_is_acknowledged_logged_and_changes_nothing(
    socket_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A payload of a shape Slack never sends gets the HTTP route's shape check (``channels.slack.shapes``): over
    HTTP a 400; here an ack without a payload, so Slack does not redeliver it three times, and a one-line warning,
    never a listener's traceback."""
    h = socket_harness
    async with h.widget(name="Cem") as widget:
        await widget.say("Hi", "c1")
        await widget.expect("status")
        root = await _thread(h)
        caplog.set_level(logging.WARNING)
        event = {"type": "message", "channel": SUPPORT, "user": 12345, "text": "odd", "ts": "9.1", "thread_ts": root}
        status, _ = await h.slack.post_event(event)
        assert status == 200  # acknowledged: not redelivered

        await h.slack.agent_says("Still here", thread_ts=root)  # the connection and the bridge go on
        frame = await widget.expect("message")

    assert frame["message"]["text"] == "Still here"
    assert await _stored(h, "odd") == 0
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == ["slack: Socket Mode events_api envelope refused: event.user must be an id or an object"]
    assert not [r for r in caplog.records if r.exc_info]


async def test_card_buttons_modals_and_slash_commands_answer_through_the_ack(socket_harness: Harness) -> None:
    h = socket_harness
    async with h.widget(name="Ana", locale="en") as widget:
        await widget.say("Where is my order?", "c1")
        await widget.expect("status")
        root = await _thread(h)

        status, _ = await h.slack.click_button(root, "desk_claim", user=ALEX)
        assert status == 200
        await h.slack.wait_for(
            lambda: any("Alex claimed this conversation." in m["text"] for m in h.slack.thread(root))
        )

        status, body = await h.slack.post_command("/stats", "7d")  # the answer travels in the ack's payload
        answer = json.loads(body)
        assert status == 200 and answer["response_type"] == "ephemeral" and "conversations" in answer["text"]
        assert [e["text"] for e in h.slack.ephemerals if e["user"] == ALEX] == [answer["text"]]  # shown to Alex

        await h.slack.post_command("/announce", "")
        [view] = [v for v in h.slack.views.values() if v.get("callback_id") == "announce"]
        status, body = await h.slack.submit_view(view["id"], {"announce_key": {"announce_key": "incident"}})
        assert status == 200 and json.loads(body)["response_action"] == "errors"
        assert not h.slack.views[view["id"]].get("_closed")  # the modal stays open with its error, as over HTTP

    kinds = {(e["type"], e["accepts_response_payload"]) for e in h.slack.socket_mode.envelopes}
    assert {("interactive", False), ("slash_commands", True), ("interactive", True)} <= kinds


async def _reply_after_reconnecting(h: Harness, cut: Callable[[], Awaitable[None]], reply: str) -> dict[str, Any]:
    """A widget customer writes; ``cut`` ends the bridge's connection; once it is open again, an agent's ``reply``
    reaches the customer: its ``message`` frame."""
    async with h.widget(name="Cy") as widget:
        await widget.say("Are you there?", "c1")
        await widget.expect("status")
        root = await _thread(h)

        await cut()
        await h.slack.wait_for(lambda: h.slack.socket_mode.connections_opened == 2 and h.slack.socket_mode.connected)

        await h.slack.agent_says(reply, thread_ts=root)
        return await widget.expect("message")


async def test_a_refresh_requested_disconnect_reconnects_and_the_next_reply_arrives(
    socket_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = socket_harness
    caplog.set_level(logging.INFO, logger="switchboard.slack.socket_mode")
    frame = await _reply_after_reconnecting(
        h, lambda: h.slack.socket_mode.disconnect("refresh_requested"), "Yes, still here."
    )
    assert frame["message"]["text"] == "Yes, still here."
    assert len(h.slack.calls_to("apps.connections.open")) == 2  # once at start, once for the new connection
    assert "slack: Socket Mode reconnected" in caplog.text


async def test_a_connection_slack_closes_without_warning_is_reopened(
    socket_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = socket_harness
    caplog.set_level(logging.INFO, logger="switchboard.slack.socket_mode")
    # no disconnect message: Slack's side went away
    frame = await _reply_after_reconnecting(h, h.slack.socket_mode.close_connections, "Back again.")
    assert frame["message"]["text"] == "Back again."
    assert "Received CLOSE event" in caplog.text and "slack: Socket Mode reconnected" in caplog.text


async def test_a_revoked_app_token_refuses_startup_with_one_line_naming_it(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_slack() as (slack, slack_server):
        slack.fail_next("apps.connections.open", error="invalid_auth")  # the token was revoked
        with pytest.raises(ChannelStartupError) as refused:
            async with running_bridge(db_url, tmp_path, slack, slack_server, socket_mode=True):
                pass

    assert str(refused.value) == "Slack rejected SLACK_APP_TOKEN: invalid_auth"
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert slack.socket_mode.connected == 0

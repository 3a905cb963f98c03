"""An agent's reply that arrives before the bridge has recorded its thread is redelivered, never lost."""

from __future__ import annotations

import sqlalchemy as sa

from bridge.engine import MESSAGE
from tests.support.harness import Harness


def _reply(harness: Harness, *, thread_ts: str, parent_user_id: str, ts: str) -> dict[str, object]:
    return {
        "type": "message",
        "channel": harness.slack.support_channel,
        "user": "U0AGENT1",
        "text": "are you still there?",
        "ts": ts,
        "thread_ts": thread_ts,
        "parent_user_id": parent_user_id,
        "event_ts": ts,
        "channel_type": "channel",
    }


async def test_reply_in_a_bot_thread_the_bridge_does_not_know_yet_is_refused_for_redelivery(harness: Harness) -> None:
    """The card's ts is stored only after chat.postMessage returns; a faster reply used to be acked and lost."""
    event = _reply(
        harness, thread_ts="1763999999.000100", parent_user_id=harness.slack.bot_user_id, ts="1763999999.000200"
    )
    status, _ = await harness.slack.post_event(event)
    assert status == 500, "Slack must redeliver it once the thread is recorded"


async def test_reply_in_someone_elses_thread_is_acknowledged_and_ignored(harness: Harness) -> None:
    event = _reply(harness, thread_ts="1763999999.000300", parent_user_id="U0AGENT2", ts="1763999999.000400")
    status, _ = await harness.slack.post_event(event)
    assert status == 200
    assert await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.id)) == []

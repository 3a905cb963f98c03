"""A returning customer's card links to their earlier conversations' threads, with date and status (issue 6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bridge.engine import CONVERSATION
from bridge.model import utcnow
from bridge.sandbox.slack import TEAM_DOMAIN
from tests.support.harness import SUPPORT, Harness, Widget

ALEX = "U0AGENT1"


def roots(harness: Harness) -> list[dict[str, Any]]:
    return harness.slack.channel_messages()


def context_texts(card: dict[str, Any]) -> list[str]:
    return [e["text"] for b in card["blocks"] if b["type"] == "context" for e in b["elements"]]


async def close_and_age(harness: Harness, widget: Widget, card: dict[str, Any], days: int) -> int:
    """Close the conversation of ``card`` from Slack, then move it ``days`` into the past (too old to reopen)."""
    status, _ = await harness.slack.click_button(card["ts"], "desk_close", user=ALEX)
    assert status == 200
    await widget.expect("message")  # the closing text
    row = await harness.bridge.store.fetch_one(
        sa.select(CONVERSATION.c.id).where(CONVERSATION.c.slack_thread_ts == card["ts"])
    )
    assert row is not None
    then = utcnow() - timedelta(days=days)

    async def age(conn: Any) -> None:
        await conn.execute(
            sa.update(CONVERSATION).where(CONVERSATION.c.id == row.id).values(created_at=then, resolved_at=then)
        )

    await harness.bridge.store.writer.run(age)
    return int(row.id)


def label(conversation_id: int, days_ago: int) -> str:
    day = utcnow() - timedelta(days=days_ago)
    return f"#{conversation_id} · {day.day} {day:%b %Y} · resolved"


def permalink(ts: str) -> str:
    return f"https://{TEAM_DOMAIN}.slack.com/archives/{SUPPORT}/p{ts.replace('.', '')}"


async def test_third_conversation_card_links_the_two_earlier_threads(harness: Harness) -> None:
    async with harness.widget(name="Ana", locale="en") as widget:
        await widget.say("My order is late", "c1")
        await harness.slack.wait_for(lambda: len(roots(harness)) == 1)
        first = roots(harness)[0]
        assert not [t for t in context_texts(first) if t.startswith("Earlier:")]  # a first-time customer
        first_id = await close_and_age(harness, widget, first, days=20)

        await widget.say("The parcel is damaged", "c2")
        await harness.slack.wait_for(lambda: len(roots(harness)) == 2)
        second_id = await close_and_age(harness, widget, roots(harness)[1], days=10)

        await widget.say("Can I return it?", "c3")
        await harness.slack.wait_for(lambda: len(roots(harness)) == 3)

    first, second, third = roots(harness)
    earlier = [t for t in context_texts(third) if t.startswith("Earlier:")]
    assert earlier == [
        f"Earlier: <{permalink(second['ts'])}|{label(second_id, 10)}>, <{permalink(first['ts'])}|{label(first_id, 20)}>"
    ]
    asked = [call.params.get("message_ts") for call in harness.slack.calls_to("chat.getPermalink")]
    assert sorted(asked) == sorted([first["ts"], second["ts"]])  # each thread's permalink asked for once

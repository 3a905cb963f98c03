"""Messages of an open conversation take the desk's hot path (no task per message); it keeps every rule."""

from __future__ import annotations

import sqlalchemy as sa

from bridge.engine import MESSAGE
from tests.scenarios.test_new_conversations_are_routed_to_available_agents import until_field
from tests.support.harness import Harness


async def test_a_later_message_with_an_urgent_word_still_raises_the_priority(harness: Harness) -> None:
    async with harness.widget(name="Ana") as widget:
        await widget.say("Hello", "c1")
        await widget.say("Still there?", "c2")  # the conversation is cached now: the hot path
        await widget.say("My payment did not arrive", "c3")  # acknowledged at once; the raise follows
        await until_field(harness, "Ana", "Priority", "🔴 Urgent")


async def test_a_resent_message_is_acknowledged_with_its_first_id_and_stored_once(harness: Harness) -> None:
    async with harness.widget(name="Ben") as widget:
        await widget.say("Hello", "c1")
        first = await widget.say("Where is my order?", "c2")
        again = await widget.say("Where is my order?", "c2")  # a resend after a lost ack
        later = await widget.say("Thanks", "c3")
    assert again["id"] == first["id"] and later["id"] > first["id"]
    rows = await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.text).where(MESSAGE.c.direction == "in"))
    assert [r.text for r in rows] == ["Hello", "Where is my order?", "Thanks"]

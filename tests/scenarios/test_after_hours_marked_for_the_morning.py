"""A conversation that arrives after hours gets a thread note and a "for the morning" mark on its card, which an
agent's claim or reply clears; one that arrives in business hours gets neither (issue 6)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.hours import BusinessHours, parse_hours
from bridge.model import utcnow
from tests.scenarios.test_new_conversations_are_routed_to_available_agents import card_of, customer
from tests.support.harness import Harness, running_bridge, running_slack

ALEX = "U0AGENT1"
NOTE = "Arrived after hours — marked for the morning (we open "
MARK = "🌙 *For the morning*: arrived after hours · we open "
OPEN_ROUND_THE_CLOCK = parse_hours("UTC; mon-sun 00:00-24:00")


def closed_until(opening: date) -> BusinessHours:
    """Open every day round the clock, except holidays from yesterday until ``opening`` (closed now)."""
    today = utcnow().date()
    return BusinessHours(
        "UTC", holidays=frozenset(today + timedelta(days=n) for n in range(-1, (opening - today).days))
    )


def card(harness: Harness, name: str) -> dict[str, Any]:
    found = card_of(harness, name)
    assert found is not None
    return found


def marks(harness: Harness, name: str) -> list[str]:
    texts = [e["text"] for b in card(harness, name)["blocks"] if b["type"] == "context" for e in b["elements"]]
    return [t for t in texts if t.startswith("🌙")]


def thread_of(harness: Harness, name: str) -> list[str]:
    return [m["text"] for m in harness.slack.thread(card(harness, name)["ts"])]


async def test_after_hours_conversations_are_marked_until_an_agent_takes_them(db_url: str, tmp_path: Path) -> None:
    opening = utcnow().date() + timedelta(days=2)
    label = f"{opening:%a} {opening.day} {opening:%b} 00:00 UTC"
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, hours=closed_until(opening)) as h,
        AsyncExitStack() as stack,
    ):
        await customer(stack, h, "Ana", "Anyone there?")
        await slack.wait_for(lambda: f"{NOTE}{label})" in thread_of(h, "Ana"))
        assert marks(h, "Ana") == [f"{MARK}{label}"]

        await slack.agent_says("Good morning Ana, I'm on it", thread_ts=card(h, "Ana")["ts"])
        await slack.wait_for(lambda: not marks(h, "Ana"))  # answered: no longer waiting for the morning

        await customer(stack, h, "Ben", "Hello?")
        await slack.wait_for(lambda: bool(marks(h, "Ben")))
        status, _ = await slack.click_button(card(h, "Ben")["ts"], "desk_claim", user=ALEX)
        assert status == 200
        await slack.wait_for(lambda: not marks(h, "Ben"))  # claimed
        assert sum(t.startswith(NOTE) for t in thread_of(h, "Ben")) == 1


@pytest.mark.parametrize("hours", [OPEN_ROUND_THE_CLOCK, None], ids=["in-hours", "no-hours"])
async def test_conversations_in_business_hours_are_not_marked(
    db_url: str, tmp_path: Path, hours: BusinessHours | None
) -> None:
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, hours=hours) as h,
        AsyncExitStack() as stack,
    ):
        await customer(stack, h, "Ana", "Anyone there?")
        await slack.wait_for(lambda: "Anyone there?" in thread_of(h, "Ana"))
        await slack.drain()
        assert not marks(h, "Ana")
        assert not [t for t in thread_of(h, "Ana") if t.startswith(NOTE)]

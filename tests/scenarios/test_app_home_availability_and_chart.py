"""App Home: the availability toggle works like ``/available`` and ``/away``, and the daily chart is a PNG the
bridge serves only at a signed, unexpired link (issue 6)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import sqlalchemy as sa
from PIL import Image

from bridge.chart import CHART_PATH, HEIGHT, NEW_COLOUR, RESOLVED_COLOUR, WIDTH, ChartLinks, DayCount, render
from bridge.model import utcnow
from bridge.routing import AGENT
from channels.slack.home import AVAILABLE, AWAY, NO_PUBLIC_URL
from tests.scenarios.test_agent_works_a_conversation_from_its_card import customer_gets
from tests.scenarios.test_new_conversations_are_routed_to_available_agents import customer, until_field
from tests.support.harness import SIGNING_SECRET, SUPPORT, Harness, running_bridge, running_slack
from tests.support.stats_history import seed_history

ALEX, SAM, OUTSIDER = "U0AGENT1", "U0AGENT2", "U0OUTSIDE"


@pytest.fixture
async def public_harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """A bridge with ``SWITCHBOARD_PUBLIC_URL`` set (its own address), so App Home links to the chart image."""
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, public=True) as h,
    ):
        yield h


def home_of(harness: Harness, user: str) -> dict[str, Any]:
    homes = [v for v in harness.slack.views.values() if v.get("type") == "home" and v["_user"] == user]
    assert len(homes) == 1
    return homes[0]


def home_text(harness: Harness, user: str) -> str:
    return json.dumps(home_of(harness, user)["blocks"], ensure_ascii=False)


async def republished(harness: Harness, user: str, request: Awaitable[tuple[int, str]]) -> None:
    """Send ``request`` (answered at once, 200), then wait until ``user``'s Home tab is published again."""
    before = harness.slack.home_view(user)
    status, _ = await request
    assert status == 200
    await harness.slack.wait_for(lambda: (view := harness.slack.home_view(user)) is not None and view is not before)


async def open_home(harness: Harness, user: str) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
    await republished(harness, user, harness.slack.post_event(event))
    return home_of(harness, user)


async def click(harness: Harness, user: str, action_id: str) -> None:
    view_id = home_of(harness, user)["id"]
    await republished(harness, user, harness.slack.click_view_button(view_id, action_id, user=user))


async def fetch(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.content_type, await response.read()


def colour_count(png: bytes, colour: tuple[int, int, int]) -> int:
    image = Image.open(BytesIO(png)).convert("RGB")
    return sum(n for n, c in image.getcolors(WIDTH * HEIGHT) or () if c == colour)


async def test_toggle_makes_the_agent_available_to_routing_and_away_again(harness: Harness) -> None:
    await open_home(harness, ALEX)
    assert "⚪ *Not set*" in home_text(harness, ALEX)

    await click(harness, ALEX, AVAILABLE)
    assert "🟢 *Available*: new conversations are offered to you (up to 5 open at a time)." in home_text(harness, ALEX)
    assert "Support stats: the last 30 days" in home_text(harness, ALEX)  # the figures stay below
    async with AsyncExitStack() as stack:
        await customer(stack, harness, "Ana", "Hello")
        await until_field(harness, "Ana", "Assignee", f"<@{ALEX}>")  # routing picks the agent who clicked

        await click(harness, ALEX, AWAY)
        assert "⚪ *Away*: no new conversations are offered to you." in home_text(harness, ALEX)
        ben = await customer(stack, harness, "Ben", "Hi there")
        await customer_gets(ben, "You are number 1 in the queue.")  # nobody available now


def assert_only_who_may_use_the_desk(harness: Harness, user: str) -> None:
    """``user``'s Home tab explains who may use the desk, and shows no figures, chart or buttons."""
    shown = home_text(harness, user)
    assert f"Only members of <#{SUPPORT}> can take conversations" in shown
    assert not [b for b in home_of(harness, user)["blocks"] if b["type"] in ("image", "actions")]
    for leaked in ("Support stats", "Conversations", "First response", "New conversations per day", CHART_PATH):
        assert leaked not in shown
    assert "*Not set*" not in shown and "*Available*" not in shown


async def test_a_non_member_sees_who_may_use_the_desk_and_no_figures(public_harness: Harness) -> None:
    h = public_harness
    await seed_history(h.bridge.store, utcnow() - timedelta(days=2))
    h.slack.add_user(OUTSIDER, "olly")
    await open_home(h, OUTSIDER)
    assert_only_who_may_use_the_desk(h, OUTSIDER)

    await open_home(h, ALEX)  # members still get their figures and the chart
    assert "Support stats: the last 30 days" in home_text(h, ALEX)
    assert [b for b in home_of(h, ALEX)["blocks"] if b["type"] == "image"]


async def test_a_non_member_is_told_why_and_nothing_changes(harness: Harness) -> None:
    harness.slack.members[SUPPORT].discard(SAM)
    await open_home(harness, SAM)
    assert_only_who_may_use_the_desk(harness, SAM)
    # A click from a Home tab published while Sam was still a member (the view is Alex's, the clicker Sam).
    await open_home(harness, ALEX)
    stale = harness.slack.view_block_actions_payload(home_of(harness, ALEX)["id"], AVAILABLE, user=SAM)
    stale["container"]["view_id"] = home_of(harness, SAM)["id"]
    await republished(harness, SAM, harness.slack.post_interaction(stale))
    assert_only_who_may_use_the_desk(harness, SAM)
    assert await harness.bridge.store.fetch_one(sa.select(AGENT.c.id).where(AGENT.c.slack_user_id == SAM)) is None


async def test_without_a_public_url_home_keeps_the_text_chart_and_says_why(harness: Harness) -> None:
    await open_home(harness, ALEX)
    blocks = home_of(harness, ALEX)["blocks"]
    assert not [b for b in blocks if b["type"] == "image"]
    assert "New conversations per day" in home_text(harness, ALEX)
    assert NO_PUBLIC_URL.replace("`", "") in home_text(harness, ALEX).replace("`", "")


async def test_home_shows_the_chart_image_served_at_a_signed_link(public_harness: Harness) -> None:
    h = public_harness
    await seed_history(h.bridge.store, utcnow() - timedelta(days=2))
    await open_home(h, ALEX)
    images = [b for b in home_of(h, ALEX)["blocks"] if b["type"] == "image"]
    assert len(images) == 1 and images[0]["alt_text"]
    url = images[0]["image_url"]
    assert url.startswith(f"{h.origin}{CHART_PATH}?exp=")

    status, content_type, png = await fetch(url)
    assert status == 200 and content_type == "image/png"
    image = Image.open(BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    today = utcnow().date()
    legend_only = render([DayCount(today - timedelta(days=n), 0, 0) for n in range(31)])
    assert colour_count(png, NEW_COLOUR) > colour_count(legend_only, NEW_COLOUR)  # bars of new conversations
    assert colour_count(png, RESOLVED_COLOUR) > colour_count(legend_only, RESOLVED_COLOUR)


async def test_tampered_expired_or_unsigned_chart_links_get_403_with_a_reason(public_harness: Harness) -> None:
    h = public_harness
    await open_home(h, ALEX)
    url = next(b for b in home_of(h, ALEX)["blocks"] if b["type"] == "image")["image_url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    links = ChartLinks(SIGNING_SECRET)
    past = int((utcnow() - timedelta(minutes=1)).timestamp())
    tampered = query["sig"][:-1] + ("1" if query["sig"].endswith("0") else "0")
    cases = {
        f"{CHART_PATH}?exp={query['exp']}&sig={tampered}": "bad signature",
        f"{CHART_PATH}?exp={int(query['exp']) + 3600}&sig={query['sig']}": "bad signature",  # a longer life
        f"{CHART_PATH}?{links.query(CHART_PATH, past)}": "this link has expired",
        f"{CHART_PATH}?{ChartLinks('another secret').query(CHART_PATH, int(query['exp']))}": "bad signature",
        CHART_PATH: "this link needs its exp and sig parameters",
        f"{CHART_PATH}?exp=soon&sig={query['sig']}": "exp must be a Unix time in seconds",
        f"{CHART_PATH}?exp=%C2%B2&sig={query['sig']}": "exp must be a Unix time in seconds",  # "²" is a digit to str
        f"{CHART_PATH}?exp={query['exp']}&sig=%C3%A9": "bad signature",
    }
    for path, reason in cases.items():
        status, content_type, body = await fetch(h.url(path))
        assert status == 403 and content_type == "application/json", path
        assert json.loads(body)["error"].startswith(reason), path
    assert (await fetch(url))[0] == 200  # the genuine link still works

"""This module contains App Home: the agent's availability with a toggle, then the figures of the last 30 days.

The view is published (``views.publish``) when the agent opens the Home tab and again after every click on
**I'm available** / **Go away**, which do what ``/available`` and ``/away`` do (``Desk.set_availability``; only
members of the support channel may). The daily chart is a PNG served by the bridge behind an expiring signed
link (``bridge/chart.py``); without ``SWITCHBOARD_PUBLIC_URL`` Slack cannot fetch it, so the text chart stays.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.chart import DailyChart
from bridge.desk import Actor, Desk
from bridge.stats import Report, Stats
from channels.slack.card import button
from channels.slack.stats import chart_section, home_blocks

log = logging.getLogger("switchboard.slack.home")

HOME_PERIOD = "30d"
AVAILABLE, AWAY = "home_available", "home_away"
AVAILABILITY_BLOCK = "home_availability"
NO_PUBLIC_URL = "Set `SWITCHBOARD_PUBLIC_URL` to see this chart as an image (Slack fetches it from the bridge)."

IsMember = Callable[[str], Awaitable[bool]]
AgentName = Callable[[str], Awaitable[str | None]]


def register(bolt: AsyncApp, home: Home) -> None:
    """Add the App Home listeners to ``bolt``."""
    bolt.event("app_home_opened")(home.opened)
    bolt.action(AVAILABLE)(home.toggle)
    bolt.action(AWAY)(home.toggle)


class Home:
    """Publishes each agent's Home tab and answers its availability buttons."""

    def __init__(
        self,
        stats: Stats,
        desk: Desk,
        *,
        client: AsyncWebClient,
        chart: DailyChart | None,
        support_channel: str,
        is_member: IsMember,
        agent_name: AgentName,
    ) -> None:
        self._stats = stats
        self._desk = desk
        self._client = client
        self._chart = chart
        self._channel = support_channel
        self._is_member = is_member
        self._agent_name = agent_name

    async def opened(self, event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home" and event.get("user"):
            await self.publish(str(event["user"]))

    async def toggle(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """**I'm available** / **Go away** on the Home tab: set the availability, then show the new state."""
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        if (body.get("container") or {}).get("type") != "view" or not user:
            return
        if not await self._is_member(user):
            notice = f"You are not a member of <#{self._channel}>: only its members can take conversations."
            await self.publish(user, notice=notice)
            return
        actor = Actor(user=user, name=await self._agent_name(user) or user)
        await self._desk.set_availability(actor, available=action.get("action_id") == AVAILABLE)
        await self.publish(user)

    async def publish(self, user: str, *, notice: str | None = None) -> None:
        """Publish ``user``'s Home tab (with ``notice`` above their availability, e.g. why a click was refused)."""
        report = await self._stats.report(HOME_PERIOD)
        chart = chart_blocks(report, self._chart.url() if self._chart is not None else None)
        blocks = availability_blocks(await self._desk.availability(user), notice=notice) + home_blocks(report, chart)
        try:
            await self._client.views_publish(user_id=user, view={"type": "home", "blocks": blocks})
        except (SlackApiError, aiohttp.ClientError) as exc:  # Slack must not redeliver the event for this
            log.warning("home: cannot publish App Home for %s: %s", user, exc)


def availability_blocks(availability: tuple[bool, int] | None, *, notice: str | None = None) -> list[dict[str, Any]]:
    """The agent's availability (as ``Desk.availability`` gives it) and the two buttons that change it."""
    match availability:
        case (True, cap):
            state = f"🟢 *Available*: new conversations are offered to you (up to {cap} open at a time)."
        case (False, _):
            state = "⚪ *Away*: no new conversations are offered to you."
        case _:
            state = "⚪ *Not set*: conversations are not offered to you until you are available."
    available = availability is not None and availability[0]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your availability"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": state}},
    ]
    if notice:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f":warning: {notice}"}]})
    buttons = [button(AVAILABLE, "I'm available", style=None if available else "primary"), button(AWAY, "Go away")]
    blocks += [{"type": "actions", "block_id": AVAILABILITY_BLOCK, "elements": buttons}, {"type": "divider"}]
    return blocks


def chart_blocks(report: Report, url: str | None) -> list[dict[str, Any]]:
    """The chart image at ``url``; without one, the text chart and how to get the image."""
    if url is None:
        return [chart_section(report), {"type": "context", "elements": [{"type": "mrkdwn", "text": NO_PUBLIC_URL}]}]
    top = max((n for _day, n in report.daily), default=0)
    return [
        {
            "type": "image",
            "image_url": url,
            "alt_text": f"New and resolved conversations per day over the last 30 days (at most {top:,} new a day)",
            "title": {"type": "plain_text", "text": "New conversations per day (blue) and resolved (green)"},
        }
    ]

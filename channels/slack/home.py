"""This module contains App Home: the agent's availability with a toggle, then the figures of the last 30 days.

The view is published (``views.publish``) when the agent opens the Home tab and again after every click on
**I'm available** / **Go away**, which do what ``/available`` and ``/away`` do (``Desk.set_availability``). Only
those who may act on conversations (``Permissions``: the support channel's members, or the agent group's) see
the toggle, the figures and the chart, like ``/stats``; anyone else gets a short note saying who may.

Slack is answered first: the event or click is acknowledged when the listener returns (bolt runs with
``process_before_response=True``), so reading the figures and publishing the view run in the channel's
``Background``, one publish at a time per user (the last one shows the latest state). The daily chart is a PNG
served by the bridge behind an expiring signed link (``bridge/chart.py``); without ``SWITCHBOARD_PUBLIC_URL``
Slack cannot fetch it, so the text chart stays.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.chart import DailyChart
from bridge.desk import Actor, Desk
from bridge.keyed_locks import KeyedLocks
from bridge.stats import Report, Stats
from channels.slack.background import Background
from channels.slack.card import button
from channels.slack.permissions import AgentName, Permissions
from channels.slack.stats import chart_section, home_blocks

log = logging.getLogger("switchboard.slack.home")

HOME_PERIOD = "30d"
AVAILABLE, AWAY = "home_available", "home_away"
AVAILABILITY_BLOCK = "home_availability"
NO_PUBLIC_URL = "Set `SWITCHBOARD_PUBLIC_URL` to see this chart as an image (Slack fetches it from the bridge)."


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
        permissions: Permissions,
        agent_name: AgentName,
        background: Background,
    ) -> None:
        self._stats = stats
        self._desk = desk
        self._client = client
        self._chart = chart
        self._permissions = permissions
        self._agent_name = agent_name
        self._background = background
        self._publishing = KeyedLocks()  # one publish at a time per user

    async def opened(self, event: dict[str, Any]) -> None:
        """The Home tab was opened: answer Slack now, publish the view afterwards."""
        if event.get("tab", "home") == "home" and event.get("user"):
            self._publish_later(str(event["user"]))

    async def toggle(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """**I'm available** / **Go away** on the Home tab: store the availability, then show the new state."""
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        if (body.get("container") or {}).get("type") != "view" or not user:
            return
        if await self._permissions.allowed(user):
            actor = Actor(user=user, name=await self._agent_name(user) or user)
            await self._desk.set_availability(actor, available=action.get("action_id") == AVAILABLE)
        self._publish_later(user)  # a refused click gets the note on who may (its stale buttons disappear)

    def _publish_later(self, user: str) -> None:
        self._background.spawn(self.publish(user), what=f"publishing the Home tab of {user}")

    async def publish(self, user: str) -> None:
        """Publish ``user``'s Home tab: availability and figures for those allowed, else who may use the desk."""
        async with self._publishing.hold(user):
            if await self._permissions.allowed(user):
                report = await self._stats.report(HOME_PERIOD)
                chart = chart_blocks(report, self._chart.url() if self._chart is not None else None)
                blocks = availability_blocks(await self._desk.availability(user)) + home_blocks(report, chart)
            else:
                blocks = outsider_blocks(self._permissions.who)
            try:
                await self._client.views_publish(user_id=user, view={"type": "home", "blocks": blocks})
            except (SlackApiError, aiohttp.ClientError) as exc:
                log.warning("home: cannot publish App Home for %s: %s", user, exc)


def outsider_blocks(who: str) -> list[dict[str, Any]]:
    """The Home tab of someone who may not act on conversations: who may (no figures, chart or buttons)."""
    text = f"Only {who} can take conversations, set their availability and see the support figures here."
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Switchboard support desk"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
    ]


def availability_blocks(availability: tuple[bool, int] | None) -> list[dict[str, Any]]:
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

"""This module contains Permissions: who may act on conversations (cards, commands, Home, /announce).

Members of the support channel may, and, when ``SWITCHBOARD_SLACK_AGENT_GROUP`` names a Slack user group, that
group's members too (e.g. on-call agents who do not sit in the channel). Both member lists are read from Slack
(``conversations.members``, ``usergroups.users.list``) and kept for a short while, so a burst of clicks costs one
call; a list Slack cannot give is not kept, and the user is refused (fail closed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import final

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("switchboard.slack.permissions")

KEEP_FOR = 30.0  # seconds a member list is trusted before it is read again

AgentName = Callable[[str], Awaitable[str | None]]
"""How listeners name the acting Slack user (``SlackChannel._agent_name``: ``users.info``, kept); None if unknown."""


@final
class Permissions:
    """Answers "may this Slack user act on conversations?" for every Slack listener, in one place."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        support_channel: str,
        agent_group: str | None = None,
        keep_for: float = KEEP_FOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._channel = support_channel
        self._group = agent_group
        self._keep_for = keep_for
        self._clock = clock
        self._lists: dict[str, tuple[float, frozenset[str]]] = {}

    @property
    def who(self) -> str:
        """Who may act, as Slack mrkdwn: "members of <#C…>" (or of the user group)."""
        group = f" or of <!subteam^{self._group}>" if self._group else ""
        return f"members of <#{self._channel}>{group}"

    async def allowed(self, user: str) -> bool:
        """Whether ``user`` is a member of the support channel or of the agent user group."""
        if not user:
            return False
        if user in await self._members(f"channel:{self._channel}", self._channel_members):
            return True
        return self._group is not None and user in await self._members(f"group:{self._group}", self._group_members)

    async def _members(self, name: str, read: Callable[[], Awaitable[frozenset[str]]]) -> frozenset[str]:
        kept = self._lists.get(name)
        if kept is not None and self._clock() - kept[0] < self._keep_for:
            return kept[1]
        try:
            members = await read()
        except (SlackApiError, aiohttp.ClientError) as exc:
            log.warning("slack: cannot read the %s members (%s); refusing", name, exc)
            return frozenset()
        self._lists[name] = (self._clock(), members)
        return members

    async def _channel_members(self) -> frozenset[str]:
        members: set[str] = set()
        cursor: str | None = None
        while True:
            page = await self._client.conversations_members(channel=self._channel, cursor=cursor, limit=200)
            members.update(str(m) for m in page.get("members") or ())
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return frozenset(members)

    async def _group_members(self) -> frozenset[str]:
        assert self._group is not None
        answer = await self._client.usergroups_users_list(usergroup=self._group)
        return frozenset(str(u) for u in answer.get("users") or ())

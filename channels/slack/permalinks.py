"""This module contains Permalinks: links to messages of the support channel (``chat.getPermalink``), cached.

A message's permalink never changes, so each is asked for once; the most recently used few thousand are kept.
A link Slack cannot give (deleted thread, network trouble) is left out, and asked for again next time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import final

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("switchboard.slack.permalinks")


@final
class Permalinks:
    def __init__(self, client: AsyncWebClient, channel: str, *, keep: int = 4096) -> None:
        self._client = client
        self._channel = channel
        self._keep = keep
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def links(self, messages: Iterable[str]) -> dict[str, str]:
        """The permalinks of the messages (ts) of the channel, by ts; those Slack cannot give are left out."""
        wanted = list(dict.fromkeys(messages))
        found = await asyncio.gather(*(self._link(ts) for ts in wanted))
        return {ts: link for ts, link in zip(wanted, found, strict=True) if link is not None}

    async def _link(self, ts: str) -> str | None:
        link = self._cache.get(ts)
        if link is not None:
            self._cache.move_to_end(ts)
            return link
        try:
            response = await self._client.chat_getPermalink(channel=self._channel, message_ts=ts)
        except (SlackApiError, aiohttp.ClientError) as exc:
            log.warning("slack: no permalink for %s in %s: %s", ts, self._channel, exc)
            return None
        self._cache[ts] = link = str(response["permalink"])
        if len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return link

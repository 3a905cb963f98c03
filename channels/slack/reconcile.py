"""This module contains the Reconciler: exactly-once posting to Slack, which has no idempotency key of its own.

``chat.postMessage`` takes no idempotency key, so a post that Slack accepted but whose answer never reached us (the
process was killed, a timeout, a dropped connection) would be posted again by a plain retry. Every post therefore
carries its delivery's key in Slack message metadata (``event_type`` ``switchboard_delivery``, ``event_payload``
``{"key", "part", "parts"}``; a conversation's root card carries ``switchboard_card`` and the conversation id).
Before posting a delivery that *may* already have been posted, the Reconciler reads the thread
(``conversations.replies`` with ``include_all_metadata``; for a card, ``conversations.history``), looks for our own
bot's messages carrying that key, and posts only the parts it does not find.

TL;DR: when is a delivery looked up first?

- The outbox says an earlier process may have posted it (``maybe_sent_after``: it was pending when this process
  started). One scan per thread serves every such delivery of the thread; what this process posts afterwards it
  knows itself.
- A post of this process failed without a definite answer (timeout, dropped connection, a 5xx, cancelled). A
  definite refusal (``ok: false``, 429, connection refused) means nothing was posted and costs no lookup, which
  matters under rate limits: ``conversations.replies`` has its own (Tier 3) budget.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, final

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.events import OutboundCard, OutboundText

log = logging.getLogger("switchboard.slack.reconcile")

DELIVERY_EVENT: Final = "switchboard_delivery"
CARD_EVENT: Final = "switchboard_card"
CLOCK_MARGIN = 300.0  # seconds: Slack's clock (a message's ts) may be behind ours when we bound a history scan
PAGE = 200  # messages per conversations.* page (Slack recommends at most 200)
KNOWN_KEYS = 4096  # deliveries whose posted parts this process remembers
KNOWN_THREADS = 256  # thread scans kept


def delivery_metadata(key: str, part: int, parts: int) -> dict[str, Any]:
    """The ``metadata`` argument of ``chat.postMessage`` for part ``part`` (0-based) of ``parts`` of a delivery."""
    return {"event_type": DELIVERY_EVENT, "event_payload": {"key": key, "part": part, "parts": parts}}


def card_metadata(conversation_id: int) -> dict[str, Any]:
    """The ``metadata`` argument of ``chat.postMessage`` for a conversation's root card."""
    return {"event_type": CARD_EVENT, "event_payload": {"conversation": conversation_id}}


def may_have_posted(exc: BaseException) -> bool:
    """False when Slack (or the network) definitely did not take the call; True when it may have."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 500)
        return status >= 500  # ok:false and 429 are answers: nothing was posted
    return not isinstance(exc, aiohttp.ClientConnectorError)  # refused before a byte was sent


@dataclass(slots=True)
class _Scan:
    """What one read of a thread found: key -> part -> ts, and when the read started (wall clock)."""

    started: float
    found: dict[str, dict[int, str]] = field(default_factory=dict)


@final
class Reconciler:
    """Posts deliveries with their key, and finds them again before posting what may already be there.

    Args:
        client: the channel's Web API client.
        channel: the support channel's id.
    """

    def __init__(self, client: AsyncWebClient, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._own: frozenset[str] = frozenset()  # our bot's user id and bot id, from auth.test
        self._posted: OrderedDict[str, dict[int, str]] = OrderedDict()  # key -> part -> ts, posted here
        self._doubt: dict[str, float] = {}  # key -> when a post of it failed without a definite answer
        self._scans: OrderedDict[str, _Scan] = OrderedDict()  # thread ts -> its latest read
        self.lookups = 0  # conversations.* pages read (for tests and logs)
        self.skipped = 0  # parts found already posted, so not posted again

    def own(self, *ids: str) -> None:
        """Our bot's user id and bot id: only messages by them count as ours."""
        self._own = frozenset(i for i in ids if i)

    async def post_message(self, out: OutboundText, posts: list[dict[str, Any]]) -> str:
        """Post the parts of ``out`` not already in its thread; the first part's ts."""
        key = out.idempotency_key
        if key is None:  # nothing to find it by later: post as is
            return str((await _post_all(self._client, posts))[0])
        posted = self._posted.setdefault(key, {})
        self._posted.move_to_end(key)
        doubt = self._doubt.get(key)
        if out.maybe_sent_after is not None or doubt is not None:
            scan = await self._thread(out.target.external_id, fresh_after=doubt)
            self._doubt.pop(key, None)  # only now: a failed read must leave the doubt for the next attempt
            found = [part for part in scan.found.get(key, {}) if part not in posted and part < len(posts)]
            for part in found:
                posted[part] = scan.found[key][part]
            if found:
                self.skipped += len(found)
                log.info("slack: delivery %s is in the thread already (parts %s): not posted again", key, found)
        for part, post in enumerate(posts):
            if part in posted:
                continue
            metadata = delivery_metadata(key, part, len(posts))
            async with self._attempt(key):
                response = await self._client.chat_postMessage(**post, metadata=metadata)
            posted[part] = str(response["ts"])
        scan = self._scans.get(out.target.external_id)
        if scan is not None:  # what this process posts is part of the thread from now on
            scan.found[key] = dict(posted)
        while len(self._posted) > KNOWN_KEYS:
            self._posted.popitem(last=False)
        return posted[0]

    async def find_card(self, out: OutboundCard) -> str | None:
        """The ts of ``out``'s card if it may have been posted already and is in the channel, else None."""
        key = _card_key(out.card.conversation_id)
        doubt = self._doubt.get(key)
        if out.maybe_sent_after is None and doubt is None:
            return None
        since = out.maybe_sent_after.timestamp() if out.maybe_sent_after is not None else doubt
        assert since is not None
        found: list[str] = []
        async for message in self._read("conversations_history", oldest=f"{since - CLOCK_MARGIN:.6f}"):
            payload = _payload(message, CARD_EVENT)
            if payload is not None and payload.get("conversation") == out.card.conversation_id:
                found.append(str(message["ts"]))
        self._doubt.pop(key, None)
        if not found:
            return None
        self.skipped += 1
        log.info("slack: the card of conversation %s is in the channel already: not posted again", key)
        return min(found, key=float)  # the first one, should there be several

    @asynccontextmanager
    async def card_attempt(self, out: OutboundCard) -> AsyncIterator[None]:
        """Around a card post: a failure without a definite answer makes the next try look for the card first."""
        async with self._attempt(_card_key(out.card.conversation_id)):
            yield

    @asynccontextmanager
    async def _attempt(self, key: str) -> AsyncIterator[None]:
        started = time.time()
        try:
            yield
        except BaseException as exc:  # cancelled too: the request may be on the wire
            if may_have_posted(exc):
                self._doubt[key] = started
            raise

    async def _thread(self, thread_ts: str, *, fresh_after: float | None) -> _Scan:
        """The thread's latest read, re-read when it started before ``fresh_after`` (or never happened)."""
        scan = self._scans.get(thread_ts)
        if scan is None or (fresh_after is not None and scan.started < fresh_after):
            scan = _Scan(started=time.time())
            async for message in self._read("conversations_replies", ts=thread_ts):
                payload = _payload(message, DELIVERY_EVENT)
                if payload is not None and isinstance(payload.get("key"), str) and isinstance(payload.get("part"), int):
                    scan.found.setdefault(payload["key"], {}).setdefault(payload["part"], str(message["ts"]))
            self._scans[thread_ts] = scan
        self._scans.move_to_end(thread_ts)
        while len(self._scans) > KNOWN_THREADS:
            self._scans.popitem(last=False)
        return scan

    async def _read(self, method: str, **params: Any) -> AsyncIterator[Mapping[str, Any]]:
        """Our own bot's messages from every page of a ``conversations.*`` read, with their metadata."""
        call = getattr(self._client, method)
        async for messages in read_pages(call, channel=self._channel, include_all_metadata=True, **params):
            self.lookups += 1
            for message in messages:
                if message.get("user") in self._own or message.get("bot_id") in self._own:
                    yield message


async def read_pages(call: Callable[..., Awaitable[Any]], **params: Any) -> AsyncIterator[Sequence[Mapping[str, Any]]]:
    """The messages of each page of a cursor-paginated ``conversations.*`` read, page by page, in Slack's order.

    ``call`` is the Web API client's method (or a wrapper of it, e.g. one that paces its calls); ``params`` are its
    arguments but ``limit`` and ``cursor``.
    """
    cursor: str | None = None
    while True:
        page = await call(limit=PAGE, cursor=cursor, **params)
        yield page.get("messages") or ()
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return
        await asyncio.sleep(0)


def _card_key(conversation_id: int) -> str:
    return f"card:{conversation_id}"


def _payload(message: Mapping[str, Any], event_type: str) -> Mapping[str, Any] | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != event_type:
        return None
    payload = metadata.get("event_payload")
    return payload if isinstance(payload, Mapping) else None


async def _post_all(client: AsyncWebClient, posts: Iterable[dict[str, Any]]) -> list[str]:
    return [str((await client.chat_postMessage(**post))["ts"]) for post in posts]

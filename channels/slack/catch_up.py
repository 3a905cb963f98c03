"""This module contains CatchUp: agents' thread replies whose Slack event never came still reach the customer.

Slack retries an event three times within about six minutes, then drops it; in an incident it does not replay events
at all, and a bridge that is down gets none. So the Slack channel also reads the threads itself: when it starts,
then every ``SWITCHBOARD_SLACK_CATCH_UP_MINUTES``, ``conversations.replies`` of every active thread
(``bridge.active_threads``: open and pending conversations, and those resolved within 24 h), from the newest agent
message the bridge stored there (``oldest``), or from the thread's start when it stored none.

TL;DR: what happens to a message found

- A person's message goes, in ts order per thread, through bolt the way the Socket Mode adapter hands bolt an event
  (``AsyncBoltRequest(mode="socket_mode")``, so there is no HTTP signature to check): the same middleware, the same
  listeners (``!canned``, ``//`` notes, shared files, plain replies), the same sink. A reply that did arrive live is
  a duplicate of its unique ``<channel>:<ts>`` source id: stored once, delivered once. Bots' messages (ours are the
  customers' side of the thread) are skipped, as bolt and ``to_agent_reply`` would skip them.
- A message whose listener fails (bolt answers 500: the store refused, say) ends that thread's turn in this sweep;
  the messages after it wait for the next sweep, so the thread's order holds.
- What this process has read moves the thread's start on, in memory; after a restart the database says where.

Calls are paced (``TierPacer``) inside ``conversations.replies``' Tier 3 (about 50 a minute): a burst of ``BURST``,
then ``PER_MINUTE`` a minute, so at most 40 in any minute and the rest of the tier stays free for the outbox's
thread scans (``reconcile.py``). A 429 holds every read until its Retry-After. A sweep of N threads therefore takes
about (N - 10) / 30 minutes: up to about 160 active conversations fit in the default 5 minutes; with more, sweeps
follow each other back to back. Stopping cancels a sweep at once (what it handed over is stored or not, and a later
sweep or restart hands the rest over again), so it adds nothing to the app's stop time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, final

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError

from bridge.active_threads import KnownThread
from bridge.events import RetryLater
from channels.slack.errors import to_delivery_error
from channels.slack.pacing import TierPacer
from channels.slack.reconcile import read_pages

__all__ = ["BURST", "PER_MINUTE", "CatchUp", "ThreadSource"]

log = logging.getLogger("switchboard.slack.catch_up")

BURST = 10  # conversations.replies calls at once, then PER_MINUTE a minute: at most 40 in any minute (Tier 3: ~50)
PER_MINUTE = 30

ThreadSource = Callable[[str], Awaitable[Sequence[KnownThread]]]
"""The active threads of a channel, with the newest agent message the bridge stored from each (``ActiveThreads``)."""


@final
class CatchUp:
    """Reads the active threads at start and every ``every``, and hands what the bridge missed to bolt.

    Args:
        bolt: the channel's bolt app: its listeners are the live path, its client reads the threads.
        channel: the support channel's id.
        threads: where the active threads come from.
        every: from the end of one sweep to the start of the next (``SWITCHBOARD_SLACK_CATCH_UP_MINUTES``).
    """

    def __init__(self, bolt: AsyncApp, *, channel: str, threads: ThreadSource, every: timedelta) -> None:
        self._bolt = bolt
        self._channel = channel
        self._threads = threads
        self._every = every.total_seconds()
        self._pacer = TierPacer(per_minute=PER_MINUTE, burst=BURST)
        self._read: dict[str, str] = {}  # thread ts -> the newest ts of it this process has read and handed over
        self._own_user = ""  # our bot's user id (auth.test): its messages are the customers' side of the thread
        self._sweeping = asyncio.Lock()  # a sweep asked for (``sweep``) waits for the running one
        self._task: asyncio.Task[None] | None = None
        self.sweeps = 0  # completed sweeps (for tests and logs)

    def start(self, *, own_user: str) -> None:
        """Sweep now, then every ``every``, until ``close``."""
        self._own_user = own_user
        self._task = asyncio.create_task(self._run(), name="slack catch-up")

    async def close(self) -> None:
        """Stop at once, even in the middle of a sweep."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # the database, say: the next sweep tries again
                log.exception("slack catch-up: the sweep failed")
            await asyncio.sleep(self._every)

    async def sweep(self) -> int:
        """Read every active thread once; how many people's messages it handed to the live path."""
        async with self._sweeping:
            threads = await self._threads(self._channel)
            active = {thread.thread_ts for thread in threads}
            self._read = {ts: newest for ts, newest in self._read.items() if ts in active}
            caught, where = 0, 0
            for thread in threads:
                try:
                    found = await self._thread(
                        thread.thread_ts, _later(thread.newest_ts, self._read.get(thread.thread_ts))
                    )
                except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:  # a deleted card, Slack down
                    log.warning("slack catch-up: cannot read thread %s: %s", thread.thread_ts, _reason(exc))
                    continue
                caught += found
                where += found > 0
            self.sweeps += 1
        if caught:
            log.info("slack catch-up: agent replies caught up: %d (in %d of %d threads)", caught, where, len(threads))
        return caught

    async def _thread(self, thread_ts: str, oldest: str | None) -> int:
        """Hand over the messages of one thread after ``oldest``, in ts order; how many were people's."""
        params: dict[str, Any] = {"channel": self._channel, "ts": thread_ts}
        if oldest is not None:
            params["oldest"] = oldest
        handed = 0
        async with contextlib.aclosing(read_pages(self._replies, **params)) as pages:
            async for messages in pages:
                for message in sorted((m for m in messages if _is_ts(m.get("ts"))), key=lambda m: float(m["ts"])):
                    ts = str(message["ts"])
                    if ts == thread_ts or (oldest is not None and float(ts) <= float(oldest)):
                        continue  # the root (Slack returns it first), or what an earlier read had
                    if self._from_a_person(message):
                        if not await self._hand_over(message):
                            return handed  # the rest of the thread waits for the next sweep, in order
                        handed += 1
                    self._read[thread_ts] = ts
        return handed

    def _from_a_person(self, message: Mapping[str, Any]) -> bool:
        user = message.get("user")
        return isinstance(user, str) and user != self._own_user and not message.get("bot_id")

    async def _hand_over(self, message: Mapping[str, Any]) -> bool:
        """``message`` as a ``message`` event through bolt's middleware and listeners; False when a listener failed."""
        ts = str(message["ts"])
        event = {**message, "channel": self._channel, "event_ts": ts, "channel_type": "channel"}
        body = {
            "type": "event_callback",
            "team_id": message.get("team"),
            "event": event,
            "event_id": f"catch-up:{self._channel}:{ts}",
            "event_time": int(float(ts)),
        }
        response = await self._bolt.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
        if response.status != 200:
            log.warning(
                "slack catch-up: message %s of thread %s not taken (%s)", ts, message.get("thread_ts"), response.status
            )
            return False
        return True

    async def _replies(self, **params: Any) -> Any:
        """``conversations.replies``, paced; a 429 holds the pacer for its Retry-After, then asks again."""
        while True:
            await self._pacer.wait()
            try:
                return await self._bolt.client.conversations_replies(**params)
            except SlackApiError as exc:
                error = to_delivery_error(exc)
                if not isinstance(error, RetryLater) or error.retry_after is None:
                    raise
                log.info("slack catch-up: conversations.replies is rate limited for %s", error.retry_after)
                self._pacer.hold(error.retry_after.total_seconds())


def _is_ts(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _later(a: str | None, b: str | None) -> str | None:
    """The later of two ts (either may be missing)."""
    if a is None or b is None:
        return a or b
    return a if float(a) >= float(b) else b


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError) and isinstance(exc.response.data, dict):
        return str(exc.response.get("error") or exc)
    return f"{type(exc).__name__}: {exc}"

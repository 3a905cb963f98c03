"""This module contains the widget socket's Heartbeat: pings, and closing a socket that left 2 of them unanswered.

aiohttp's own ``heartbeat=`` closes a socket after one missed pong (it pings after ``heartbeat`` seconds
without data and gives the pong ``heartbeat / 2`` seconds), and it resets a timer on every chunk received.
The target (G25) is "idle sockets closed after 2 missed pings", so the widget turns aiohttp's off
(``autoping=False``: the session's read loop sees the pongs and answers the client's pings) and runs this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, ClassVar, final

from aiohttp import WSCloseCode, web

log = logging.getLogger("switchboard.web")


@final
class Heartbeat:
    """Pings the socket every ``interval`` seconds; once ``missed_limit`` pings in a row got no pong, the next
    beat closes it with 1001 (going away; the widget reconnects).

    A socket that stopped answering is so closed between ``missed_limit`` and ``missed_limit + 1`` intervals
    after its last pong: 60-90 s with the defaults. Only pongs count as answers, so a client that sends
    messages but never answers pings is closed too (browsers answer pings by themselves).
    """

    interval: ClassVar[float] = 30.0  # seconds between pings (tests shorten it)
    missed_limit: ClassVar[int] = 2  # pings in a row without a pong before the socket is closed

    __slots__ = ("_loop", "_tasks", "_timer", "_unanswered", "_ws")

    def __init__(self, ws: web.WebSocketResponse, loop: asyncio.AbstractEventLoop) -> None:
        self._ws = ws
        self._loop = loop
        self._unanswered = 0  # pings sent since the last pong
        self._tasks: set[asyncio.Task[Any]] = set()  # pings being written, the close
        self._timer: asyncio.TimerHandle | None = loop.call_later(self.interval, self._beat)

    def answered(self) -> None:
        """A pong arrived (any pong: the client answers every ping, so one is enough)."""
        self._unanswered = 0

    def stop(self) -> None:
        """The socket is done: no more pings (a close already under way finishes by itself)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _beat(self) -> None:
        self._timer = None
        if self._ws.closed:
            return
        if self._unanswered >= self.missed_limit:
            log.info("widget socket closed: %d pings without a pong", self._unanswered)
            self._spawn(self._close())
            return
        self._unanswered += 1
        self._spawn(self._ws.ping())
        self._timer = self._loop.call_later(self.interval, self._beat)

    async def _close(self) -> None:
        # The client may be gone for good: its close frame is not awaited past one interval (aiohttp then
        # drops the connection; the read loop ends either way).
        async with asyncio.timeout(self.interval):
            reason = f"no answer to {self._unanswered} pings".encode()
            await self._ws.close(code=WSCloseCode.GOING_AWAY, message=reason)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:  # the connection broke meanwhile
            log.debug("widget heartbeat: %s: %s", type(exc).__name__, exc)

"""This module contains the hot path's clock: one timestamp per event-loop iteration."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


class TickClock:
    """``utcnow`` for rows written by the hot path: every call within one iteration of the event loop gives the
    same aware datetime, so the messages of one burst share one timestamp object, and the writer converts it to
    text once for all of them (``SqliteTimeText`` caches by identity).

    uvloop's ``loop.time()`` is the iteration's cached time (millisecond resolution), so a timestamp is at most a
    few milliseconds older than the call; asyncio's own loop reads the monotonic clock on every call, so there
    each call gets a fresh timestamp. Message order never depends on it (ids do that).
    """

    __slots__ = ("_loop", "_now", "_tick")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._tick = -1.0
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        tick = self._loop.time()
        if tick != self._tick:
            self._tick, self._now = tick, datetime.now(UTC)
        return self._now

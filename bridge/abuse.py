"""This module contains the Desk's abuse limits: new conversations per client address, messages per conversation.

They are kept in memory (reliability target G25): a restart forgets them (one bridge serves a database:
``bridge.serve_lock``). The widget's other limits live with its socket and its file routes (``channels/web``): 20
sockets per address, 100 messages and 10 hellos a minute per socket, frames of at most 64 KB, and the bytes of files
uploaded per address an hour (``BytesPerHour``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import final

__all__ = [
    "MESSAGES_PER_CONVERSATION_PER_MINUTE",
    "NEW_CONVERSATIONS_PER_IP",
    "NEW_CONVERSATIONS_WINDOW",
    "BytesPerHour",
    "Limits",
    "NewConversations",
    "PerMinute",
]

NEW_CONVERSATIONS_PER_IP = 6  # SWITCHBOARD_NEW_CONVERSATIONS_PER_IP's default
NEW_CONVERSATIONS_WINDOW = 12 * 3600.0  # seconds
MESSAGES_PER_CONVERSATION_PER_MINUTE = 200  # read when ``Limits`` is made: bench_server raises it before that
MAX_ADDRESSES = 100_000  # addresses remembered at most; the least recently seen is forgotten first

Clock = Callable[[], float]  # seconds, monotonic


@final
class PerMinute:
    """At most ``limit`` hits per key in each one-minute bucket.

    The buckets are fixed: every key's count starts over together when a minute is up (the first hit after
    it opens the next minute). So a burst that straddles the change can reach twice the limit within a few
    seconds, never more. This is the hot path's check: one clock read and one dict update per hit, no
    timestamps kept per key, and the whole table is dropped each minute.
    """

    __slots__ = ("_clock", "_counts", "_ends", "limit")

    def __init__(self, limit: int, *, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._counts: dict[object, int] = {}
        self._ends = -1.0  # the first hit opens the first minute

    def allow(self, key: object) -> bool:
        """Count one hit for ``key``; False when it is over the limit for this minute (refused hits count too)."""
        now = self._clock()
        if now >= self._ends:
            self._counts = {}
            self._ends = now + 60.0
        counts = self._counts
        hits = counts[key] = counts.get(key, 0) + 1
        return hits <= self.limit


@final
class BytesPerHour:
    """At most ``limit`` bytes per key in each one-hour bucket (fixed buckets, as ``PerMinute``'s: every key starts
    over together when the hour is up). A transfer ``reserve``s its most before it starts, so concurrent ones cannot
    pass the limit together, and gets back (``refund``) what it did not store."""

    __slots__ = ("_clock", "_ends", "_hour", "_spent", "limit")

    def __init__(self, limit: int, *, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._spent: dict[object, int] = {}
        self._ends = -1.0  # the first reservation opens the first hour
        self._hour = 0  # which bucket this is: a refund counts only in the hour of its reservation

    def reserve(self, key: object, amount: int) -> int | None:
        """Count ``amount`` bytes for ``key``: the hour they count in, for ``refund``; None (nothing counted) when
        that would pass the limit this hour."""
        now = self._clock()
        if now >= self._ends:
            self._spent = {}
            self._ends = now + 3600.0
            self._hour += 1
        spent = self._spent.get(key, 0) + amount
        if spent > self.limit:
            return None
        self._spent[key] = spent
        return self._hour

    def refund(self, key: object, amount: int, hour: int) -> None:
        """Give back ``amount`` bytes reserved in ``hour`` (nothing once that hour has ended)."""
        if hour == self._hour and key in self._spent:
            self._spent[key] = max(0, self._spent[key] - amount)


@final
class NewConversations:
    """At most ``limit`` new conversations per client address in any ``window`` seconds (a sliding window).

    ``admit`` counts only what it admits: a refused attempt does not push the address's next chance further
    away. ``limit`` 0 admits everything and remembers nothing.
    """

    __slots__ = ("_clock", "_opened", "limit", "window")

    def __init__(
        self,
        limit: int = NEW_CONVERSATIONS_PER_IP,
        *,
        window: float = NEW_CONVERSATIONS_WINDOW,
        clock: Clock = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._opened: dict[str, tuple[float, ...]] = {}  # address -> when its recent conversations were opened

    def admit(self, address: str | None) -> bool:
        """Whether the client at ``address`` may open one more conversation now (and count it if so); an unknown
        address (Telegram's customers: the platform hides theirs) is always admitted."""
        if address is None or self.limit <= 0:
            return True
        now = self._clock()
        opened = self._opened.pop(address, ())  # re-inserted below: the dict stays in least recently seen order
        recent = tuple(t for t in opened if now - t < self.window)
        if len(recent) >= self.limit:
            self._opened[address] = recent
            return False
        self._opened[address] = (*recent, now)
        if len(self._opened) > MAX_ADDRESSES:
            del self._opened[next(iter(self._opened))]
        return True

    def opened(self, address: str) -> int:
        """How many conversations ``address`` opened within the window (for log lines and tests)."""
        now = self._clock()
        return sum(1 for t in self._opened.get(address, ()) if now - t < self.window)


@final
class Limits:
    """The Desk's two abuse limits (``Desk(limits=...)``)."""

    __slots__ = ("conversations", "messages")

    def __init__(
        self,
        *,
        new_conversations_per_ip: int = NEW_CONVERSATIONS_PER_IP,
        messages_per_minute: int | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        per_minute = MESSAGES_PER_CONVERSATION_PER_MINUTE if messages_per_minute is None else messages_per_minute
        self.conversations = NewConversations(new_conversations_per_ip, clock=clock)
        self.messages = PerMinute(per_minute, clock=clock)

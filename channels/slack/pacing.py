"""This module contains TierPacer: keeps one Web API method's calls inside its Slack rate tier, without a 429 first.

Slack limits each Web API method per workspace by tier (Tier 3, ``conversations.replies`` and ``.history`` among
them: about 50 calls a minute, with occasional bursts). The pacer lets ``burst`` calls through at once, then one
every ``60 / per_minute`` seconds, so no minute ever sees more than ``burst + per_minute`` calls however long a
backlog is: a big one is spread over time. A 429 still tells the caller to ``hold`` for its Retry-After: no call
goes before then, and the calls after it come at the steady rate, not in a new burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import final

__all__ = ["TierPacer"]


@final
class TierPacer:
    """A token bucket of ``burst`` calls, refilled at ``per_minute`` a minute, that callers wait on.

    Callers take turns (one ``wait`` at a time is enough for the catch-up, which reads threads one by one).
    """

    def __init__(self, *, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a pacer needs a positive rate and a burst of at least one call")
        self._interval = 60.0 / per_minute
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._not_before = self._last

    async def wait(self) -> None:
        """Return when one more call fits in the tier (and count it)."""
        delay = self._delay()
        if delay > 0:  # one wait is enough: only ``hold`` moves the next call later, and it refills to one call
            await asyncio.sleep(delay)
            self._delay()  # the refill while asleep
        self._tokens -= 1.0

    def hold(self, seconds: float) -> None:
        """Slack answered 429 with ``Retry-After: seconds``: the next call goes then, the ones after it paced."""
        self._not_before = max(self._not_before, self._clock() + seconds)
        self._tokens, self._last = 1.0, self._not_before

    def _delay(self) -> float:
        now = self._clock()
        if now < self._not_before:
            return self._not_before - now
        self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval)
        self._last = now
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) * self._interval

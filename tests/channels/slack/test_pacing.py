"""TierPacer keeps a Web API method inside its rate tier: a burst, then a steady rate, and nothing before a 429's
Retry-After. Times are scaled down (600 calls a minute: 0.1 s apart) so the tests take a fraction of a second."""

from __future__ import annotations

import time

from channels.slack.pacing import TierPacer

APART = 0.1  # seconds between calls at 600 a minute
SLACK = 0.01  # the event loop may wake a timer this much early


async def _times(pacer: TierPacer, calls: int) -> list[float]:
    started = time.monotonic()
    times: list[float] = []
    for _ in range(calls):
        await pacer.wait()
        times.append(time.monotonic() - started)
    return times


async def test_a_burst_goes_at_once_then_calls_come_at_the_steady_rate() -> None:
    """A big backlog is spread over time: only the first ``burst`` calls go together."""
    times = await _times(TierPacer(per_minute=600, burst=3), 6)
    assert times[2] < APART / 2, "the burst waited"
    # call 3 + k comes no earlier than (k + 1) intervals in (a timer that woke late may shorten the next gap: the
    # schedule, not each gap, is the tier's promise)
    assert all(times[3 + k] >= (k + 1) * APART - SLACK for k in range(3)), times


async def test_after_a_429_nothing_goes_before_retry_after_and_no_new_burst_follows() -> None:
    pacer = TierPacer(per_minute=600, burst=5)
    await pacer.wait()
    pacer.hold(0.3)  # Slack answered 429 with Retry-After: 0.3
    times = await _times(pacer, 3)
    assert times[0] >= 0.3 - SLACK, "a call went before Retry-After"
    assert all(times[k] >= 0.3 + k * APART - SLACK for k in (1, 2)), f"a burst followed the 429: {times}"

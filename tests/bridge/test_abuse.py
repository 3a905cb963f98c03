"""The abuse limits' counters over time (a fake clock): the 12-hour window, the one-minute and one-hour buckets."""

from __future__ import annotations

import pytest

from bridge import abuse
from bridge.abuse import BytesPerHour, NewConversations, PerMinute

HOUR = 3600.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_opens_6_conversations_in_any_12_hours() -> None:
    clock = FakeClock()
    limit = NewConversations(6, clock=clock)
    for _ in range(6):
        assert limit.admit("203.0.113.7")
        clock.now += HOUR  # one an hour: the first is 5 h old when the 6th opens
    assert not limit.admit("203.0.113.7")
    assert limit.admit("203.0.113.8")  # per address
    clock.now = 1000.0 + 12 * HOUR - 1
    assert not limit.admit("203.0.113.7")  # the first is not 12 h old yet
    clock.now = 1000.0 + 12 * HOUR
    assert limit.admit("203.0.113.7")  # it is now: one place again
    assert not limit.admit("203.0.113.7")
    assert limit.opened("203.0.113.7") == 6


def test_refused_attempts_do_not_count_and_an_unknown_address_is_not_limited() -> None:
    clock = FakeClock()
    limit = NewConversations(1, clock=clock)
    assert limit.admit("198.51.100.1")
    for _ in range(50):  # a widget resending every few seconds
        clock.now += 60
        assert not limit.admit("198.51.100.1")
    clock.now = 1000.0 + 12 * HOUR
    assert limit.admit("198.51.100.1")  # 12 h after the one it admitted, not after the last refusal
    assert all(limit.admit(None) for _ in range(100))  # Telegram's customers: no address
    off = NewConversations(0, clock=clock)
    assert all(off.admit("198.51.100.1") for _ in range(100))


def test_addresses_are_forgotten_least_recently_seen_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(abuse, "MAX_ADDRESSES", 3)
    limit = NewConversations(1, clock=FakeClock())
    for address in ("a", "b", "c"):
        assert limit.admit(address)
    assert not limit.admit("a")  # seen again: now the most recent
    assert limit.admit("d")  # a fourth address: "b" is forgotten
    assert not limit.admit("a") and not limit.admit("c") and not limit.admit("d")  # remembered
    assert limit.admit("b")  # forgotten: a new address again


def test_per_minute_counts_per_key_and_starts_over_each_minute() -> None:
    clock = FakeClock()
    per_minute = PerMinute(200, clock=clock)
    assert all(per_minute.allow(7) for _ in range(200))
    assert not per_minute.allow(7)
    assert per_minute.allow(8)  # another conversation
    clock.now += 59.9
    assert not per_minute.allow(7)
    clock.now += 0.1  # a minute after the first hit: a new bucket for everyone
    assert all(per_minute.allow(7) for _ in range(200))
    assert not per_minute.allow(7)


def test_an_address_reserves_at_most_its_bytes_an_hour_and_gets_back_what_it_did_not_store() -> None:
    clock = FakeClock()
    budget = BytesPerHour(100, clock=clock)
    hour = budget.reserve("203.0.113.7", 60)
    assert hour is not None
    assert budget.reserve("203.0.113.7", 41) is None  # 101: nothing counted
    assert budget.reserve("203.0.113.8", 100) is not None  # per address
    budget.refund("203.0.113.7", 20, hour)  # 40 of the 60 stored
    assert budget.reserve("203.0.113.7", 60) == hour  # 100
    assert budget.reserve("203.0.113.7", 1) is None
    clock.now += HOUR
    late = budget.reserve("203.0.113.7", 100)  # a new hour: everyone starts over
    assert late is not None and late != hour
    budget.refund("203.0.113.7", 100, hour)  # a refund of the hour that ended gives nothing back now
    assert budget.reserve("203.0.113.7", 1) is None

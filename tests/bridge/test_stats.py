"""Analytics figures over a seeded history, on SQLite and PostgreSQL (issue 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bridge.schema import upgrade
from bridge.stats import Durations, Figures, Period, Stats, UnknownPeriod, format_duration, percentile, period
from bridge.store import Store
from tests.support.stats_history import U1, U2, seed_history

T0 = datetime(2025, 3, 8, 10, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 9, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await upgrade(db_url)
    async with Store(db_url) as s:
        await seed_history(s, T0)
        yield s


async def test_seeded_history_gives_the_expected_figures(store: Store) -> None:
    report = await Stats(store, clock=lambda: NOW).report("7d")

    assert report.period == Period("7d", NOW - timedelta(days=7), NOW)
    assert report.total == Figures(
        conversations=5,
        messages_in=8,  # 7 in the cohort + 1 written in the period in an older conversation
        messages_out=5,  # the note is internal
        first_response=Durations(count=4, median=180.0, p90=282.0),  # 60, 120, 240 (from the reply), 300
        resolution=Durations(count=3, median=600.0, p90=1080.0),  # 300, 600, 1200
        resolved=3,
        bot_resolved=1,
        csat_count=3,
        csat_average=4.0,
    )
    assert report.total.resolution_rate == pytest.approx(0.6)
    assert report.total.bot_resolved_share == pytest.approx(1 / 3)

    assert sorted(report.by_channel) == ["telegram", "web"]
    web, telegram = report.by_channel["web"], report.by_channel["telegram"]
    assert (web.conversations, web.messages_in, web.messages_out) == (3, 5, 3)
    assert web.first_response == Durations(count=2, median=90.0, p90=114.0)
    assert web.resolution == Durations(count=3, median=600.0, p90=1080.0)
    assert (web.resolution_rate, web.csat_average, web.csat_count) == (1.0, 4.0, 3)
    assert (telegram.conversations, telegram.messages_in, telegram.messages_out) == (2, 3, 2)
    assert telegram.first_response == Durations(count=2, median=270.0, p90=294.0)
    assert telegram.resolution == Durations()
    assert (telegram.resolution_rate, telegram.bot_resolved_share, telegram.csat_average) == (0.0, 0.0, None)

    assert sorted(report.by_agent) == [U1, U2]  # the bot's conversation has no agent
    u1, u2 = report.by_agent[U1], report.by_agent[U2]
    assert (u1.conversations, u1.messages_in, u1.messages_out) == (2, 4, 2)
    assert u1.first_response == Durations(count=2, median=90.0, p90=114.0)
    assert u1.resolution == Durations(count=2, median=900.0, p90=1140.0)
    assert (u1.resolution_rate, u1.bot_resolved_share, u1.csat_average, u1.csat_count) == (1.0, 0.0, 4.5, 2)
    assert (u2.conversations, u2.messages_in, u2.messages_out) == (2, 3, 2)  # U2 assigned one, first replied to one
    assert u2.first_response == Durations(count=2, median=270.0, p90=294.0)

    assert report.daily[-2:] == [(date(2025, 3, 8), 5), (date(2025, 3, 9), 0)]
    assert sum(n for _, n in report.daily) == 5


async def test_periods_select_the_cohort(store: Store) -> None:
    today = await Stats(store, clock=lambda: NOW).report("today")  # 2025-03-09: nothing created
    assert today.total.conversations == 0 and today.total.messages_in == 0
    assert today.total.resolution_rate == 0.0 and today.total.bot_resolved_share == 0.0
    month = await Stats(store, clock=lambda: NOW).report("month")
    assert month.total.conversations == 5
    thirty = await Stats(store, clock=lambda: NOW).report("30d")
    assert thirty.total.conversations == 6  # the older one too
    assert thirty.total.messages_in == 8


def test_period_names_and_bounds() -> None:
    now = datetime(2025, 3, 9, 12, 30, tzinfo=UTC)
    assert period("today", now=now).since == datetime(2025, 3, 9, tzinfo=UTC)
    assert period("month", now=now).since == datetime(2025, 3, 1, tzinfo=UTC)
    assert period("30D", now=now).since == now - timedelta(days=30)
    assert period("7d", now=now.replace(tzinfo=None)).until == now  # naive means UTC
    with pytest.raises(UnknownPeriod):
        period("yesterdayish", now=now)


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], 0.9) == pytest.approx(91.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0s"), (45.4, "45s"), (252, "4m 12s"), (180, "3m"), (7500, "2h 5m"), (93600, "1d 2h")],
)
def test_durations_read_like_people_write_them(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text

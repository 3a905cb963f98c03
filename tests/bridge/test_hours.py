"""Business hours: open or not at a moment, and when agents are back (issue 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bridge.config import ConfigError, Settings
from bridge.hours import BusinessHours, parse_holidays, parse_hours

VILNIUS = ZoneInfo("Europe/Vilnius")
HOURS = parse_hours("Europe/Vilnius; mon-fri 09:00-18:00; sat 10:00-14:00")
REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "s",
    "SLACK_SUPPORT_CHANNEL": "C0123ABCD",
}


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VILNIUS)


def test_parses_days_and_ranges() -> None:
    assert HOURS.timezone == "Europe/Vilnius"
    assert HOURS.weekly[0] == HOURS.weekly[4] == [(time(9), time(18))]
    assert HOURS.weekly[5] == [(time(10), time(14))]
    assert 6 not in HOURS.weekly
    split = parse_hours("UTC; mon,wed 09:00-12:00,13:00-17:00")
    assert split.weekly[2] == [(time(9), time(12)), (time(13), time(17))] and 1 not in split.weekly


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (at(2026, 11, 23, 9, 0), True),  # Monday, the minute it opens
        (at(2026, 11, 23, 8, 59), False),
        (at(2026, 11, 27, 17, 59), True),  # Friday
        (at(2026, 11, 27, 18, 0), False),  # closes at 18:00 sharp
        (at(2026, 11, 28, 12, 0), True),  # Saturday
        (at(2026, 11, 28, 15, 0), False),
        (at(2026, 11, 29, 12, 0), False),  # Sunday
    ],
)
def test_weekday_ranges(moment: datetime, is_open: bool) -> None:
    assert HOURS.is_open(moment) is is_open


def test_time_zones_are_the_business_ones() -> None:
    assert HOURS.is_open(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))  # 09:30 in Vilnius (UTC+2)
    assert not HOURS.is_open(datetime(2026, 11, 23, 6, 30, tzinfo=UTC))  # 08:30 in Vilnius
    assert HOURS.is_open(datetime(2026, 11, 23, 7, 30))  # naive is UTC
    assert HOURS.next_opening(datetime(2026, 11, 23, 6, 30, tzinfo=UTC)) == at(2026, 11, 23, 9, 0)


def test_next_opening_across_a_weekend() -> None:
    assert HOURS.next_opening(at(2026, 11, 28, 22, 0)) == at(2026, 11, 30, 9, 0)  # Saturday night -> Monday
    assert HOURS.next_opening(at(2026, 11, 27, 19, 0)) == at(2026, 11, 28, 10, 0)  # Friday night -> Saturday
    assert HOURS.next_opening(at(2026, 11, 23, 10, 0)) is None  # open now


def test_holidays_close_whole_days() -> None:
    hours = parse_hours("Europe/Vilnius; mon-fri 09:00-18:00", parse_holidays("2026-12-24, 2026-12-25"))
    assert not hours.is_open(at(2026, 12, 24, 12, 0))
    # Wednesday evening before Christmas Eve -> Monday 28th (Thursday and Friday are holidays, then the weekend)
    assert hours.next_opening(at(2026, 12, 23, 19, 0)) == at(2026, 12, 28, 9, 0)
    assert hours.is_open(at(2026, 12, 28, 9, 0))


def test_empty_schedule_is_always_open() -> None:
    hours = BusinessHours("UTC", {}, frozenset())
    assert hours.always_open and hours.is_open(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    assert hours.next_opening(datetime(2026, 11, 29, 3, 0, tzinfo=UTC)) is None
    only_holidays = parse_hours("UTC", frozenset({date(2026, 12, 25)}))
    assert not only_holidays.is_open(datetime(2026, 12, 25, 12, 0, tzinfo=UTC))
    assert only_holidays.next_opening(datetime(2026, 12, 25, 12, 0, tzinfo=UTC)) == datetime(
        2026, 12, 26, tzinfo=ZoneInfo("UTC")
    )


def test_settings_read_hours_and_holidays() -> None:
    settings = Settings.load(
        {**REQUIRED, "SWITCHBOARD_HOURS": "Europe/Vilnius; mon-fri 09:00-18:00", "SWITCHBOARD_HOLIDAYS": "2026-12-24"}
    )
    assert settings.hours is not None and settings.hours.holidays == {date(2026, 12, 24)}
    assert Settings.load(REQUIRED).hours is None  # default: always open


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"SWITCHBOARD_HOURS": "Mars/Olympus; mon 09:00-18:00"}, "SWITCHBOARD_HOURS starts with an unknown time zone"),
        ({"SWITCHBOARD_HOURS": "UTC; funday 09:00-18:00"}, "SWITCHBOARD_HOURS part 'funday 09:00-18:00' has unknown"),
        ({"SWITCHBOARD_HOURS": "UTC; mon 9am-6pm"}, "SWITCHBOARD_HOURS part 'mon 9am-6pm' has hours '9am-6pm'"),
        ({"SWITCHBOARD_HOURS": "UTC; mon 18:00-09:00"}, "end before they start"),
        ({"SWITCHBOARD_HOURS": "UTC; mon"}, "needs days and hours"),
        ({"SWITCHBOARD_HOURS": "UTC", "SWITCHBOARD_HOLIDAYS": "24.12.2026"}, "SWITCHBOARD_HOLIDAYS: '24.12.2026'"),
        ({"SWITCHBOARD_HOLIDAYS": "2026-12-24"}, "SWITCHBOARD_HOLIDAYS needs SWITCHBOARD_HOURS"),
    ],
)
def test_invalid_hours_name_the_setting(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({**REQUIRED, **env})
    [line] = caught.value.problems
    assert line.startswith(problem) or problem in line

"""This module contains the business hours: when agents answer, and when they are back if not (issue 6).

Pure: no clock, no I/O. ``SWITCHBOARD_HOURS`` reads like ``"Europe/Vilnius; mon-fri 09:00-18:00; sat 10:00-14:00"``
(the time zone, then ``<days> <from>-<to>[,<from>-<to>...]`` per part) and ``SWITCHBOARD_HOLIDAYS`` like
``"2026-12-24,2026-12-25"`` (whole days closed, in the business time zone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BusinessHours", "parse_holidays", "parse_hours"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ALL_DAY = ((time.min, time.max),)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening ranges per weekday (0 = Monday; each range is [from, to)) in ``timezone``, minus ``holidays``.

    An empty ``weekly`` schedule means open round the clock (except on holidays)."""

    timezone: str
    weekly: dict[int, list[tuple[time, time]]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fail early on an unknown time zone

    @property
    def always_open(self) -> bool:
        return not self.weekly and not self.holidays

    def is_open(self, now: datetime) -> bool:
        """Whether agents are in at ``now`` (naive datetimes are UTC)."""
        local = _aware(now).astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        moment = local.time().replace(tzinfo=None)
        return any(start <= moment < end for start, end in self._ranges(local.date()))

    def next_opening(self, now: datetime) -> datetime | None:
        """When agents are next in, in the business time zone; None when they are in at ``now``."""
        if self.is_open(now):
            return None
        zone = ZoneInfo(self.timezone)
        local = _aware(now).astimezone(zone)
        for offset in range(8 + len(self.holidays)):
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _end in sorted(self._ranges(day)):
                opening = datetime.combine(day, start, tzinfo=zone)
                if opening > local:
                    return opening
        return None

    def _ranges(self, day: date) -> tuple[tuple[time, time], ...] | list[tuple[time, time]]:
        if not self.weekly:
            return _ALL_DAY
        return self.weekly.get(day.weekday(), [])


def parse_hours(raw: str, holidays: frozenset[date] = frozenset()) -> BusinessHours:
    """Parse ``"<time zone>; <days> <from>-<to>[,...]; ..."``.

    Raises:
        ValueError: with a short reason naming the part that is wrong.
    """
    zone, *parts = [part.strip() for part in raw.split(";")]
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"starts with an unknown time zone '{zone}' (e.g. Europe/Vilnius)") from None
    weekly: dict[int, list[tuple[time, time]]] = {}
    for part in filter(None, parts):
        days_text, _, ranges_text = part.partition(" ")
        if not ranges_text.strip():
            raise ValueError(f"part '{part}' needs days and hours, e.g. 'mon-fri 09:00-18:00'")
        ranges = [_range(r.strip(), part) for r in ranges_text.split(",") if r.strip()]
        for day in _days(days_text.strip(), part):
            weekly.setdefault(day, []).extend(ranges)
    for day_ranges in weekly.values():
        day_ranges.sort()
    return BusinessHours(zone, weekly, holidays)


def parse_holidays(raw: str) -> frozenset[date]:
    """Parse comma-separated ISO dates.

    Raises:
        ValueError: naming the first entry that is not a date.
    """
    days: set[date] = set()
    for item in (i.strip() for i in raw.split(",")):
        if not item:
            continue
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise ValueError(f"'{item}' is not a date like 2026-12-24") from None
    return frozenset(days)


def _days(text: str, part: str) -> list[int]:
    days: list[int] = []
    for item in text.lower().split(","):
        first, _, last = item.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"part '{part}' has unknown days '{item}' (use mon, tue, ... sun or ranges like mon-fri)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.extend((start + i) % 7 for i in range((end - start) % 7 + 1))
    return days


def _range(text: str, part: str) -> tuple[time, time]:
    first, _, last = text.partition("-")
    try:
        start = time.fromisoformat(first.strip())
        end = time.max if last.strip() == "24:00" else time.fromisoformat(last.strip())
    except ValueError:
        raise ValueError(f"part '{part}' has hours '{text}' that are not like 09:00-18:00") from None
    if end <= start:
        raise ValueError(f"part '{part}' has hours '{text}' that end before they start")
    return start, end


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

"""The after-hours mark, decided from a conversation's creation time and the business hours (issue 6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.after_hours import for_the_morning, opening_label, thread_note
from bridge.hours import parse_hours

HOURS = parse_hours("Europe/Istanbul; mon-fri 09:00-18:00")
SATURDAY_NIGHT = datetime(2026, 11, 28, 20, 30, tzinfo=UTC)  # 23:30 in Istanbul
MONDAY_MORNING = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 10:00 in Istanbul
MONDAY_OPENING = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("Europe/Istanbul"))


def mark(
    created_at: datetime, *, status: str = "open", assignee: str | None = None, first_response_at: Any = None
) -> datetime | None:
    return for_the_morning(
        HOURS, created_at=created_at, status=status, assignee=assignee, first_response_at=first_response_at
    )


def test_a_saturday_night_conversation_waits_for_monday_morning() -> None:
    assert mark(SATURDAY_NIGHT) == MONDAY_OPENING
    assert mark(SATURDAY_NIGHT.replace(tzinfo=None)) == MONDAY_OPENING  # SQLite's naive UTC
    assert thread_note(MONDAY_OPENING) == (
        "Arrived after hours — marked for the morning (we open Mon 30 Nov 09:00 Europe/Istanbul)"
    )
    assert opening_label(MONDAY_OPENING) == "Mon 30 Nov 09:00 Europe/Istanbul"


@pytest.mark.parametrize(
    "changes",
    [{"assignee": "U0AGENT1"}, {"first_response_at": MONDAY_MORNING}, {"status": "resolved"}],
    ids=["claimed", "answered", "resolved"],
)
def test_the_mark_lapses_once_an_agent_takes_the_conversation(changes: dict[str, Any]) -> None:
    assert mark(SATURDAY_NIGHT, **changes) is None


def test_in_hours_or_without_hours_there_is_no_mark() -> None:
    assert mark(MONDAY_MORNING) is None
    assert (
        for_the_morning(None, created_at=SATURDAY_NIGHT, status="open", assignee=None, first_response_at=None) is None
    )

"""This module contains the after-hours marker: a conversation that arrives while the desk is closed is marked
"for the morning" until an agent takes it (issue 6).

Pure: the mark is derived from the conversation's ``created_at`` and the business hours (no stored flag), and
it lapses once the conversation is assigned, answered or resolved. The texts are for the agents (English).
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_datetime

from bridge.hours import BusinessHours
from bridge.model import ConversationStatus, as_utc

__all__ = ["for_the_morning", "opening_label", "thread_note"]


def for_the_morning(
    hours: BusinessHours | None,
    *,
    created_at: datetime,
    status: str,
    assignee: str | None,
    first_response_at: datetime | None,
) -> datetime | None:
    """The desk's next opening after ``created_at`` when the conversation arrived after hours and nobody has
    taken it yet (unassigned, unanswered, not resolved); None otherwise."""
    if hours is None or status == ConversationStatus.RESOLVED or assignee is not None or first_response_at:
        return None
    return hours.next_opening(as_utc(created_at))


def opening_label(opening: datetime) -> str:
    """``Mon 30 Nov 09:00 Europe/Istanbul``: an opening in the desk's own time zone."""
    return f"{format_datetime(opening, 'EEE d MMM HH:mm', tzinfo=opening.tzinfo, locale='en')} {opening.tzinfo}"


def thread_note(opening: datetime) -> str:
    """The note posted in the thread of a conversation that arrived after hours."""
    return f"Arrived after hours — marked for the morning (we open {opening_label(opening)})"

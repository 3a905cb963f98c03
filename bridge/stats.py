"""This module contains the desk's analytics: volume, response and resolution times, CSAT, by channel and agent.

Conversation figures are over the *cohort* of conversations created in the period (so a rate is
"of the conversations that came in, how many are resolved"); message counts are over the messages
written in the period, attributed to their conversation's channel and agent. A conversation's agent
is its assignee, else the agent who sent its first reply. Durations are fetched and reduced in Python
(median and p90 with linear interpolation between closest ranks), identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bridge.engine import CONVERSATION, MESSAGE
from bridge.events import AuthorKind
from bridge.model import ConversationStatus, as_utc, utcnow
from bridge.store import Store

PERIODS = ("today", "7d", "30d", "month")
DEFAULT_PERIOD = "7d"
INTERNAL = (str(AuthorKind.NOTE), str(AuthorKind.SYSTEM))  # never shown to the customer: not "messages out"


class UnknownPeriod(ValueError):
    """The period is none of ``PERIODS``."""


@dataclass(frozen=True, slots=True)
class Period:
    """``[since, until)`` in UTC, with the name it was asked by."""

    name: str
    since: datetime
    until: datetime


def period(name: str, *, now: datetime) -> Period:
    """The period called ``name`` ending at ``now``: today (since 00:00 UTC), 7d, 30d, month (since the 1st)."""
    now = as_utc(now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    match name.strip().lower():
        case "today":
            return Period("today", midnight, now)
        case "7d":
            return Period("7d", now - timedelta(days=7), now)
        case "30d":
            return Period("30d", now - timedelta(days=30), now)
        case "month":
            return Period("month", midnight.replace(day=1), now)
    raise UnknownPeriod(name)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, interpolating linearly between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class Durations:
    """How long something took, in seconds: count, median and p90 (None without samples)."""

    count: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Durations:
        return cls(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.9))


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one group of conversations (all of them, one channel or one agent)."""

    conversations: int = 0
    messages_in: int = 0
    messages_out: int = 0
    first_response: Durations = field(default_factory=Durations)
    resolution: Durations = field(default_factory=Durations)
    resolved: int = 0
    bot_resolved: int = 0
    csat_count: int = 0
    csat_average: float | None = None

    @property
    def resolution_rate(self) -> float:
        """Resolved conversations of those created in the period (0 when none came in)."""
        return self.resolved / self.conversations if self.conversations else 0.0

    @property
    def bot_resolved_share(self) -> float:
        """Resolved conversations no agent wrote in, of all resolved ones (0 when none is resolved)."""
        return self.bot_resolved / self.resolved if self.resolved else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    total: Figures
    by_channel: dict[str, Figures]
    by_agent: dict[str, Figures]
    daily: list[tuple[date, int]]  # conversations created per UTC day of the period, oldest first


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    """What the figures need of one conversation."""

    id: int
    channel: str
    agent: str | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None  # only when resolved now
    csat_score: int | None
    agent_replied: bool


@dataclass(frozen=True, slots=True)
class MessageCount:
    conversation_id: int
    direction: str
    count: int


def compute(period: Period, conversations: Iterable[ConversationFacts], messages: Iterable[MessageCount]) -> Report:
    """The report of ``period`` from the facts of the conversations touched in it and its message counts."""
    facts = {c.id: c for c in conversations}
    cohort = [c for c in facts.values() if period.since <= c.created_at < period.until]
    volume: dict[int, Counter[str]] = defaultdict(Counter)
    for m in messages:
        volume[m.conversation_id][m.direction] += m.count

    def figures(group: Callable[[ConversationFacts], bool]) -> Figures:
        members = [c for c in cohort if group(c)]
        counted: Counter[str] = Counter()
        for conversation_id, counts in volume.items():
            touched = facts.get(conversation_id)
            if touched is not None and group(touched):
                counted.update(counts)
        resolved = [c for c in members if c.resolved_at is not None]
        scores = [c.csat_score for c in members if c.csat_score is not None]
        return Figures(
            conversations=len(members),
            messages_in=counted["in"],
            messages_out=counted["out"],
            first_response=Durations.of(
                [_seconds(c.created_at, c.first_response_at) for c in members if c.first_response_at is not None]
            ),
            resolution=Durations.of([_seconds(c.created_at, c.resolved_at) for c in resolved if c.resolved_at]),
            resolved=len(resolved),
            bot_resolved=sum(1 for c in resolved if not c.agent_replied),
            csat_count=len(scores),
            csat_average=sum(scores) / len(scores) if scores else None,
        )

    channels = sorted({c.channel for c in facts.values()})
    agents = sorted({c.agent for c in facts.values() if c.agent})
    days = Counter(c.created_at.date() for c in cohort)
    return Report(
        period=period,
        total=figures(lambda _c: True),
        by_channel={channel: figures(lambda c, channel=channel: c.channel == channel) for channel in channels},
        by_agent={agent: figures(lambda c, agent=agent: c.agent == agent) for agent in agents},
        daily=[(day, days[day]) for day in days_of(period)],
    )


def days_of(period: Period) -> list[date]:
    """The UTC days ``period`` touches, oldest first."""
    first_day, last_day = period.since.date(), (period.until - timedelta(microseconds=1)).date()
    return [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]


def _seconds(start: datetime, end: datetime | None) -> float:
    assert end is not None
    return max(0.0, (end - start).total_seconds())


class Stats:
    """Reads the report of a period from the store; ``clock`` is injectable for tests."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def period(self, name: str = DEFAULT_PERIOD) -> Period:
        return period(name, now=self._clock())

    async def report(self, name_or_period: str | Period = DEFAULT_PERIOD) -> Report:
        chosen = name_or_period if isinstance(name_or_period, Period) else self.period(name_or_period)
        messages = await self._store.fetch_all(_message_counts(chosen))
        conversations = await self._store.fetch_all(_conversation_facts(chosen))
        return compute(
            chosen,
            [_facts(row) for row in conversations],
            [MessageCount(int(row.conversation_id), str(row.direction), int(row.n)) for row in messages],
        )


def _in_period(column: Any, chosen: Period) -> sa.ColumnElement[bool]:
    return sa.and_(column >= chosen.since, column < chosen.until)


def _message_counts(chosen: Period) -> sa.Select[Any]:
    """Customer-visible messages written in the period, counted per conversation and direction."""
    return (
        sa.select(MESSAGE.c.conversation_id, MESSAGE.c.direction, sa.func.count().label("n"))
        .where(_in_period(MESSAGE.c.created_at, chosen), MESSAGE.c.author_kind.not_in(INTERNAL))
        .group_by(MESSAGE.c.conversation_id, MESSAGE.c.direction)
    )


_FACT_COLUMNS = (
    "id",
    "origin_channel",
    "status",
    "assignee",
    "created_at",
    "first_response_at",
    "resolved_at",
    "csat_score",
)


def _conversation_facts(chosen: Period) -> sa.Select[Any]:
    """Conversations created in the period or with messages in it, with their first agent reply."""
    touched = sa.or_(
        _in_period(CONVERSATION.c.created_at, chosen),
        CONVERSATION.c.id.in_(sa.select(MESSAGE.c.conversation_id).where(_in_period(MESSAGE.c.created_at, chosen))),
    )
    first = (
        sa.select(MESSAGE.c.conversation_id, sa.func.min(MESSAGE.c.id).label("message_id"))
        .where(MESSAGE.c.author_kind == str(AuthorKind.AGENT))
        .group_by(MESSAGE.c.conversation_id)
        .subquery("first_agent_reply")
    )
    reply = MESSAGE.alias("reply")
    return (
        sa.select(
            *(CONVERSATION.c[name] for name in _FACT_COLUMNS),
            reply.c.author_ref.label("first_agent"),
            reply.c.created_at.label("first_reply_at"),
        )
        .select_from(
            CONVERSATION.outerjoin(first, first.c.conversation_id == CONVERSATION.c.id).outerjoin(
                reply, reply.c.id == first.c.message_id
            )
        )
        .where(touched)
    )


def _facts(row: Any) -> ConversationFacts:
    first_response = row.first_response_at or row.first_reply_at  # replies stored before it was recorded
    resolved = row.status == ConversationStatus.RESOLVED and row.resolved_at is not None
    return ConversationFacts(
        id=int(row.id),
        channel=str(row.origin_channel),
        agent=row.assignee or row.first_agent,
        created_at=as_utc(row.created_at),
        first_response_at=as_utc(first_response) if first_response is not None else None,
        resolved_at=as_utc(row.resolved_at) if resolved else None,
        csat_score=row.csat_score,
        agent_replied=row.first_agent is not None,
    )


def format_duration(seconds: float | None) -> str:
    """``4m 12s``, ``2h 5m``, ``3d 4h``, ``45s``; an em dash without a value."""
    if seconds is None:
        return "—"
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def format_share(value: float) -> str:
    """A share as a whole percentage: ``67%``."""
    return f"{value * 100:.0f}%"

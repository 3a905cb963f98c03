"""This module contains routing: agent availability, the queue, round-robin offers and priority keywords.

Every function here runs inside a store writer job (it takes the job's connection), so a read and the
write that depends on it are one transaction on the single writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.engine import CONVERSATION
from bridge.model import Agent, ConversationStatus
from bridge.words import first_word

AGENT: sa.Table = Agent.__table__  # type: ignore[attr-defined]


class Priority(StrEnum):
    """A conversation's priority, most urgent first: the queue is served in this order."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITIES = tuple(Priority)
_RANK = sa.case({p.value: i for i, p in enumerate(PRIORITIES)}, value=CONVERSATION.c.priority, else_=2)


def keyword_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive whole-word pattern for the urgent keywords; None when there are none."""
    escaped = [re.escape(w) for w in words if w]
    return re.compile(rf"\b(?:{'|'.join(escaped)})\b", re.IGNORECASE) if escaped else None


def first_words(words: Iterable[str]) -> frozenset[str]:
    """The case-folded first word of each keyword: a message none of whose words is among them matches none."""
    return frozenset(word for w in words if (word := first_word(w)) is not None)


async def set_availability(
    conn: AsyncConnection, user: str, *, name: str | None, available: bool, max_open: int | None
) -> None:
    """Create or update the agent's row."""
    values: dict[str, Any] = {"available": available}
    if name:
        values["name"] = name
    if max_open is not None:
        values["max_open"] = max_open
    found = await conn.execute(sa.update(AGENT).where(AGENT.c.slack_user_id == user).values(**values))
    if found.rowcount == 0:
        await conn.execute(sa.insert(AGENT).values(**{"slack_user_id": user, "max_open": 5, **values}))


async def open_counts(conn: AsyncConnection) -> dict[str, int]:
    """How many unresolved conversations each assignee holds."""
    rows = await conn.execute(
        sa.select(CONVERSATION.c.assignee, sa.func.count())
        .where(CONVERSATION.c.status != ConversationStatus.RESOLVED, CONVERSATION.c.assignee.is_not(None))
        .group_by(CONVERSATION.c.assignee)
    )
    return {row[0]: int(row[1]) for row in rows}


async def next_agent(conn: AsyncConnection, now: datetime) -> str | None:
    """The next available agent under their cap, round-robin (longest since their last offer first).

    The chosen agent's ``last_offered_at`` is set to ``now``, so the next call starts after them.
    """
    counts = await open_counts(conn)
    agents = await conn.execute(
        sa.select(AGENT.c.id, AGENT.c.slack_user_id, AGENT.c.max_open)
        .where(AGENT.c.available.is_(True))
        .order_by(AGENT.c.last_offered_at.asc().nulls_first(), AGENT.c.id)
    )
    for agent in agents:
        if counts.get(agent.slack_user_id, 0) < agent.max_open:
            await conn.execute(sa.update(AGENT).where(AGENT.c.id == agent.id).values(last_offered_at=now))
            return str(agent.slack_user_id)
    return None


def _waiting() -> sa.ColumnElement[bool]:
    return sa.and_(CONVERSATION.c.status == ConversationStatus.OPEN, CONVERSATION.c.assignee.is_(None))


async def queued(conn: AsyncConnection) -> list[int]:
    """The conversations waiting for an agent, in the order they are served: priority, then age."""
    rows = await conn.execute(
        sa.select(CONVERSATION.c.id).where(_waiting()).order_by(_RANK, CONVERSATION.c.created_at, CONVERSATION.c.id)
    )
    return [int(row.id) for row in rows]


async def queue_position(conn: AsyncConnection, conversation_id: int) -> int | None:
    """1 when the conversation is served next; None when it is not waiting."""
    order = await queued(conn)
    return order.index(conversation_id) + 1 if conversation_id in order else None


async def agent_name(conn: AsyncConnection, user: str) -> str:
    """The agent's display name as they last gave it, or their Slack user id."""
    name = (await conn.execute(sa.select(AGENT.c.name).where(AGENT.c.slack_user_id == user))).scalar()
    return str(name) if name else user


async def has_agents(conn: AsyncConnection) -> bool:
    """Whether any agent has used ``/available`` or ``/away``: routing (and the queue) is on only then."""
    return (await conn.execute(sa.select(AGENT.c.id).limit(1))).first() is not None

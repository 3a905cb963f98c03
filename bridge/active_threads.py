"""This module contains ActiveThreads: the Slack threads that may still get agents' replies, and where each one's
replies the bridge has stored end.

A thread may get replies while its conversation is open or pending, and for a while after it is resolved (an agent
adds a last word; the live path delivers such a reply too). Each thread comes with the ts of the newest agent
message the bridge stored from it (a reply, a note, a ``!canned`` answer: source id ``<channel>:<ts>``), so a reader
of the thread can start after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import final

import sqlalchemy as sa

from bridge.engine import CONVERSATION, MESSAGE
from bridge.events import ChannelKind
from bridge.model import ConversationStatus, utcnow
from bridge.store import Store

__all__ = ["RESOLVED_WITHIN", "ActiveThreads", "KnownThread"]

RESOLVED_WITHIN = timedelta(hours=24)  # a resolved conversation's thread is read this long after it was resolved
# A Slack message ts as Slack writes it, e.g. "1763900100.000100": ten digits, a dot, six digits. Every source id
# of this shape compares like its ts (same prefix, same length, digits only), so max() finds the newest one whatever
# the database's collation; ids of another shape ("<channel>:canned:<view id>", "...:canned-note") never match.
_TS_SHAPE = "__________.______"


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownThread:
    """A conversation's thread in the support channel, and the newest agent message the bridge stored from it."""

    thread_ts: str
    newest_ts: str | None  # None: no agent message stored from this thread yet


@final
class ActiveThreads:
    """The threads in ``channel`` of open and pending conversations, and of those resolved within ``RESOLVED_WITHIN``.

    Args:
        store: the bridge's store (read only).
        clock: now, aware UTC.
    """

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, channel: str) -> list[KnownThread]:
        """The active threads of ``channel``, oldest conversation first."""
        newest = (
            sa.select(sa.func.max(MESSAGE.c.source_id))
            .where(
                MESSAGE.c.conversation_id == CONVERSATION.c.id,
                MESSAGE.c.source_channel == str(ChannelKind.SLACK),
                MESSAGE.c.source_id.like(f"{channel}:{_TS_SHAPE}"),
            )
            .scalar_subquery()
        )
        rows = await self._store.fetch_all(
            sa.select(CONVERSATION.c.slack_thread_ts, newest.label("newest"))
            .where(
                CONVERSATION.c.slack_channel == channel,
                CONVERSATION.c.slack_thread_ts.is_not(None),
                sa.or_(
                    CONVERSATION.c.status != ConversationStatus.RESOLVED,
                    CONVERSATION.c.resolved_at >= self._clock() - RESOLVED_WITHIN,
                ),
            )
            .order_by(CONVERSATION.c.id)
        )
        prefix = len(channel) + 1
        return [
            KnownThread(thread_ts=row.slack_thread_ts, newest_ts=row.newest[prefix:] if row.newest else None)
            for row in rows
        ]

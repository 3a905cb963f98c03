"""This module contains Retention: with ``SWITCHBOARD_RETENTION_DAYS`` = N, old resolved conversations are deleted.

TL;DR: what goes, and when.

- A conversation is *expired* when it is resolved and its last activity is more than N days (N x 24 h) before now.
  Its last activity is the latest of: its creation, first response, resolution and survey answer; every message in
  it (written, edited, deleted); every delivery of it (queued, sent). An expired conversation goes with all its
  messages, deliveries and its survey answer (which lives on the conversation row).
- Open and pending conversations are never deleted, however old. A conversation with a delivery still pending (the
  outbox is still trying) waits until it is sent or dead.
- A contact left with nothing goes too, with its identities: no conversation, the contact created more than N
  days ago, and each of its identities created and last seen (a widget session's last hello) more than N days ago.
  (A widget visitor's identity is their session: it ends.)
- ``serve`` runs this once a minute after start, then every hour, so expired data is gone at most an hour after it
  crosses N days. Deletes go through the store's writer in batches of ``BATCH`` conversations, one transaction each,
  so the hot path's commits interleave with them. The files widget visitors uploaded (``bridge.upload_files``) go
  with the messages that carry them, and a forgotten visitor's whole upload folder with their identity, right after
  the commit (a crash in between leaves the files; the next GDPR erase of the person takes them). Slack and
  Telegram keep their copies under their own retention settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.deletion import delete_contacts, delete_conversations
from bridge.engine import CONTACT, CONVERSATION, DELIVERY, IDENTITY, MESSAGE
from bridge.events import ChannelKind
from bridge.model import ConversationStatus, DeliveryStatus, utcnow
from bridge.store import Store
from bridge.upload_files import UploadFiles, widget_file_urls

__all__ = ["BATCH", "RUN_EVERY", "Purged", "Retention"]

log = logging.getLogger("switchboard.retention")

RUN_EVERY = 3600.0  # seconds between runs
FIRST_RUN_AFTER = 60.0  # seconds after start: not in the same moment as the startup backlog
BATCH = 200  # conversations (or contacts) deleted per writer job


@dataclass(slots=True)
class Purged:
    """Rows one run deleted, per table."""

    conversations: int = 0
    messages: int = 0
    deliveries: int = 0
    identities: int = 0
    contacts: int = 0
    files: int = 0  # widget uploads deleted from disk

    def add(self, other: Purged) -> None:
        self.conversations += other.conversations
        self.messages += other.messages
        self.deliveries += other.deliveries
        self.identities += other.identities
        self.contacts += other.contacts
        self.files += other.files


@final
class Retention:
    """Deletes expired conversations and abandoned contacts: ``run_once`` now, or every ``every`` seconds while
    entered as an async context (the app's lifecycle does that).

    Args:
        store: the bridge's store; deletes run as jobs of its single writer.
        days: N, the retention period.
        clock: now, aware UTC (tests move it).
        forget: told the ids of deleted conversations, after their commit: the engine drops what it cached of them.
        files: the widget's uploads: the files of deleted messages and forgotten visitors go too.
    """

    def __init__(
        self,
        store: Store,
        *,
        days: int,
        clock: Callable[[], datetime] = utcnow,
        forget: Callable[[Collection[int]], None] | None = None,
        files: UploadFiles | None = None,
        every: float = RUN_EVERY,
        first_after: float = FIRST_RUN_AFTER,
    ) -> None:
        if days < 1:
            raise ValueError("retention needs at least one day")
        self._store = store
        self._period = timedelta(days=days)
        self._clock = clock
        self._forget = forget
        self._files = files
        self._every = every
        self._first_after = first_after
        self._task: asyncio.Task[None] | None = None
        self.runs = 0  # completed runs (for tests and logs)

    def cutoff(self) -> datetime:
        """Activity before this instant is older than the retention period."""
        return self._clock() - self._period

    async def run_once(self) -> Purged:
        """Delete everything expired as of now; returns what went."""
        cutoff = self.cutoff()
        purged = Purged()
        while True:
            done, ids, urls = await self._store.writer.run(lambda conn: _purge_conversations(conn, cutoff))
            purged.add(done)
            if ids and self._forget is not None:
                self._forget(ids)
            if urls and self._files is not None:  # after the commit: a failed delete keeps every row's file
                purged.files += await self._files.delete_urls(urls)
            if len(ids) < BATCH:
                break
        while True:
            done, ids, visitors = await self._store.writer.run(lambda conn: _purge_contacts(conn, cutoff))
            purged.add(done)
            if visitors and self._files is not None:
                purged.files += await self._files.delete_visitors(visitors)
            if len(ids) < BATCH:
                break
        self.runs += 1
        if purged.conversations or purged.contacts:
            log.info(
                "retention: deleted %d conversations (%d messages, %d deliveries), %d contacts and %d uploaded files"
                " idle since %s",
                purged.conversations,
                purged.messages,
                purged.deliveries,
                purged.contacts,
                purged.files,
                cutoff.isoformat(timespec="seconds"),
            )
        return purged

    async def __aenter__(self) -> Retention:
        self._task = asyncio.create_task(self._loop(), name="switchboard-retention")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        await asyncio.sleep(self._first_after)
        while True:
            try:
                await self.run_once()
            except Exception:  # the next run tries again; serving goes on
                log.exception("retention: a run failed")
            await asyncio.sleep(self._every)


def _expired(cutoff: datetime) -> sa.Select[Any]:
    """Up to ``BATCH`` resolved conversations with no activity at or after ``cutoff``, oldest ids first."""
    c = CONVERSATION.c
    m, d = MESSAGE.c, DELIVERY.c
    recent_message = (
        sa.select(m.id)
        .where(m.conversation_id == c.id, sa.or_(m.created_at >= cutoff, m.edited_at >= cutoff, m.deleted_at >= cutoff))
        .exists()
    )
    busy_delivery = (
        sa.select(d.id)
        .where(
            d.conversation_id == c.id,
            sa.or_(d.status == DeliveryStatus.PENDING, d.created_at >= cutoff, d.sent_at >= cutoff),
        )
        .exists()
    )
    return (
        sa.select(c.id)
        .where(
            c.status == ConversationStatus.RESOLVED,
            c.created_at < cutoff,
            *(sa.or_(column.is_(None), column < cutoff) for column in (c.first_response_at, c.resolved_at, c.csat_at)),
            ~recent_message,
            ~busy_delivery,
        )
        .order_by(c.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=CONVERSATION)  # PostgreSQL: another process's run takes other rows
    )


async def _purge_conversations(conn: AsyncConnection, cutoff: datetime) -> tuple[Purged, list[int], list[str]]:
    """Delete a batch of expired conversations: what went, their ids and their messages' uploaded files' URLs."""
    ids = [int(row[0]) for row in (await conn.execute(_expired(cutoff))).all()]
    if not ids:
        return Purged(), ids, []
    attachments = await conn.execute(
        sa.select(MESSAGE.c.attachments).where(MESSAGE.c.conversation_id.in_(ids), MESSAGE.c.direction == "in")
    )
    urls = [url for (stored,) in attachments.all() for url in widget_file_urls(stored)]
    if urls:  # a file the customer sent again in a conversation that stays is kept for it
        kept = set(await _files_still_sent(conn, ids))
        urls = [url for url in urls if url not in kept]
    deleted = await delete_conversations(conn, ids)
    done = Purged(conversations=deleted["conversation"], messages=deleted["message"], deliveries=deleted["delivery"])
    return done, ids, urls


async def _files_still_sent(conn: AsyncConnection, ids: list[int]) -> list[str]:
    """The uploaded files' URLs in the customer messages of the other conversations of these conversations'
    contacts (an upload is its visitor's own: only they can send it, in their contact's conversations)."""
    contacts = sa.select(CONVERSATION.c.contact_id).where(CONVERSATION.c.id.in_(ids))
    others = sa.select(CONVERSATION.c.id).where(CONVERSATION.c.contact_id.in_(contacts), CONVERSATION.c.id.not_in(ids))
    attachments = await conn.execute(
        sa.select(MESSAGE.c.attachments).where(MESSAGE.c.conversation_id.in_(others), MESSAGE.c.direction == "in")
    )
    return [url for (stored,) in attachments.all() for url in widget_file_urls(stored)]


def _abandoned(cutoff: datetime) -> sa.Select[Any]:
    """Up to ``BATCH`` contacts with no conversation, created before ``cutoff``, none of whose identities was
    created or last seen (a widget session's last hello) since."""
    ct, i = CONTACT.c, IDENTITY.c
    has_conversation = sa.select(CONVERSATION.c.id).where(CONVERSATION.c.contact_id == ct.id).exists()
    identity_has_one = (
        sa.select(CONVERSATION.c.id)
        .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
        .where(i.contact_id == ct.id)
        .exists()
    )
    seen = sa.func.coalesce(i.last_seen_at, i.created_at)  # a widget visitor's session is renewed by every hello
    recent_identity = sa.select(i.id).where(i.contact_id == ct.id, seen >= cutoff).exists()
    return (
        sa.select(ct.id)
        .where(ct.created_at < cutoff, ~has_conversation, ~identity_has_one, ~recent_identity)
        .order_by(ct.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=CONTACT)
    )


async def _purge_contacts(conn: AsyncConnection, cutoff: datetime) -> tuple[Purged, list[int], list[str]]:
    """Delete a batch of abandoned contacts: what went, their ids and their widget visitors (upload folders)."""
    ids = [int(row[0]) for row in (await conn.execute(_abandoned(cutoff))).all()]
    if not ids:
        return Purged(), ids, []
    visitors = await conn.execute(
        sa.select(IDENTITY.c.external_id).where(
            IDENTITY.c.contact_id.in_(ids), IDENTITY.c.channel == str(ChannelKind.WEB)
        )
    )
    found = [str(visitor) for (visitor,) in visitors.all()]
    deleted = await delete_contacts(conn, ids)
    return Purged(identities=deleted["identity"], contacts=deleted["contact"]), ids, found

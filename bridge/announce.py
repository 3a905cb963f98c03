"""This module contains Announcements: one catalog text sent to every open conversation, each in its language.

An announcement is a canned answer (the ``canned`` catalog domain, e.g. ``incident`` or ``maintenance``) that an
agent sends to every customer whose conversation is not resolved, for incidents and maintenance. It knows
conversations and catalogs, not Slack: ``channels/slack/announce.py`` opens the modal, shows the errors raised
here and tells the agent how many conversations got it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.canned import AGENT, CUSTOMER, CannedService, MissingParams, agent_note
from bridge.engine import CONVERSATION, DELIVERY, IDENTITY, MESSAGE, delivery_row, message_row
from bridge.events import AuthorKind, ChannelKind, ExternalRef
from bridge.i18n import SOURCE_LOCALE, CannedText, UnknownCannedKey, placeholder_names
from bridge.model import ConversationStatus, utcnow
from bridge.store import Store

__all__ = [
    "Announced",
    "Announcement",
    "Announcements",
    "Audience",
    "MissingParams",
    "NotAnnounceable",
    "UnknownCannedKey",
]

# A parameter like ``date=2026-12-01T02:00Z`` is a moment: each customer reads it in their locale's format.
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}\S*")


class NotAnnounceable(ValueError):
    """The canned answer addresses one customer by name (``{customer}``): it cannot go to everyone."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} addresses one customer by name ({{{CUSTOMER}}}), so it cannot be announced")
        self.key = key


@dataclass(frozen=True, slots=True, kw_only=True)
class Audience:
    """The open conversations an announcement would reach now: how many per locale."""

    by_locale: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_locale.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class Announcement:
    """Agent ``agent_name`` announces canned text ``key``; ``announcement_id`` (e.g. the modal's view id) makes a
    resubmission reach each conversation once."""

    announcement_id: str
    key: str
    params: Mapping[str, str]
    agent_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Announced:
    """What happened: ``sent`` conversations got it now (per locale), ``already`` had it from the same announcement."""

    by_locale: Mapping[str, int]
    already: int

    @property
    def sent(self) -> int:
        return sum(self.by_locale.values())


@final
class Announcements:
    """Renders an announcement per locale and stores it, with its deliveries and thread notes, in one writer job."""

    def __init__(self, *, store: Store, canned: CannedService) -> None:
        self._store = store
        self._canned = canned

    def sources(self) -> dict[str, str]:
        """The canned texts that can be announced (those not addressing one customer by name): key -> English."""
        return {key: text for key, text in self._canned.sources().items() if CUSTOMER not in placeholder_names(text)}

    def check(self, key: str, params: Mapping[str, str]) -> str:
        """The English text of ``key``.

        Raises:
            UnknownCannedKey, NotAnnounceable, MissingParams: the announcement cannot be sent as asked.
        """
        source = self._canned.source(key)
        names = placeholder_names(source)
        if CUSTOMER in names:
            raise NotAnnounceable(key)
        missing = sorted(name for name in names - {AGENT} if not params.get(name))
        if missing:
            raise MissingParams(key, missing)
        return source

    async def audience(self) -> Audience:
        """How many conversations are open now, per locale."""
        rows = await self._store.fetch_all(
            sa.select(CONVERSATION.c.locale, sa.func.count())
            .where(CONVERSATION.c.status != ConversationStatus.RESOLVED)
            .group_by(CONVERSATION.c.locale)
        )
        return Audience(by_locale={str(locale): int(count) for locale, count in rows})

    async def send(self, announcement: Announcement) -> Announced:
        """Store the announcement for every open conversation's customer, in their locale, and a note in each
        conversation's thread, in one transaction.

        Raises:
            UnknownCannedKey, NotAnnounceable, MissingParams: nothing was stored.
        """
        self.check(announcement.key, announcement.params)
        texts = _Texts(self._canned, announcement)
        for locale in [SOURCE_LOCALE, *(await self.audience()).by_locale]:
            texts.render(locale)  # read the catalogs here, not while holding the writer
        source, now = f"announce:{announcement.announcement_id}", utcnow()

        async def job(conn: AsyncConnection) -> Announced:
            open_now = (await conn.execute(_OPEN_CONVERSATIONS)).all()
            texts_for = [_message(r.id, texts.render(r.locale).text, f"{source}:{r.id}", now=now) for r in open_now]
            stored = await _insert_new_messages(conn, texts_for)
            sent = [row for row in open_now if row.id in stored]
            notes_for = [
                _message(r.id, texts.note(r.locale), f"{source}:{r.id}:note", now=now, note=True)
                for r in sent
                if r.slack_thread_ts is not None  # no thread yet: the customer never wrote, no card to note it on
            ]
            notes = await _insert_new_messages(conn, notes_for)
            deliveries = [
                _delivery(stored[r.id], r.id, r.customer_channel, r.customer_ref, f"{source}:{r.id}>customer", now)
                for r in sent
            ]
            deliveries += [
                _delivery(message_id, cid, ChannelKind.SLACK, str(cid), f"note:{source}:{cid}>slack", now)
                for cid, message_id in notes.items()
            ]
            if deliveries:
                await conn.execute(sa.insert(DELIVERY), deliveries)
            by_locale = Counter(str(row.locale) for row in sent)
            return Announced(by_locale=dict(by_locale), already=len(open_now) - len(sent))

        return await self._store.writer.run(job)


class _Texts:
    """The announcement rendered once per locale, and the thread note that says what each customer got."""

    def __init__(self, canned: CannedService, announcement: Announcement) -> None:
        self._catalogs = canned.catalogs
        self._announcement = announcement
        self._rendered: dict[str, CannedText] = {}

    def render(self, locale: str) -> CannedText:
        if locale not in self._rendered:
            text = self._catalogs.canned(locale, self._announcement.key, **self._values(locale))
            if text.locale != locale:  # no translation: its moments in the fallback language's format too
                text = self._catalogs.canned(locale, self._announcement.key, **self._values(text.locale))
            self._rendered[locale] = text
        return self._rendered[locale]

    def note(self, locale: str) -> str:
        got, english = self.render(locale), self.render(SOURCE_LOCALE)
        shown = CannedText(text=got.text, locale=got.locale, fell_back=got.fell_back, source_text=english.text)
        return agent_note(
            self._announcement.key, shown, asked=locale, agent_name=self._announcement.agent_name, action="announced"
        )

    def _values(self, locale: str) -> dict[str, str]:
        """The placeholders' values for ``locale``: a moment (``2026-12-01T02:00Z``) in its long format."""
        values = {AGENT: self._announcement.agent_name}
        for name, value in self._announcement.params.items():
            moment = _moment(value)
            values[name] = value if moment is None else self._catalogs.format_datetime(locale, moment, width="long")
        return values


def _moment(value: str) -> datetime | None:
    if not _MOMENT.fullmatch(value):
        return None
    try:  # shown in UTC: 9999-12-31T23:59-05:00 is past the last datetime there (OverflowError when formatted)
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


_OPEN_CONVERSATIONS = (
    sa.select(
        CONVERSATION.c.id,
        CONVERSATION.c.locale,
        CONVERSATION.c.slack_thread_ts,
        IDENTITY.c.channel.label("customer_channel"),
        IDENTITY.c.external_id.label("customer_ref"),
    )
    .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
    .where(CONVERSATION.c.status != ConversationStatus.RESOLVED)
    .order_by(CONVERSATION.c.id)
)


def _message(conversation_id: int, text: str, source_id: str, *, now: datetime, note: bool = False) -> dict[str, Any]:
    """A system text for the customer, or (``note``) a note for the agents in the thread."""
    return message_row(
        conversation_id=conversation_id,
        direction="out",
        author_kind=AuthorKind.NOTE if note else AuthorKind.SYSTEM,
        author_ref=None,
        author_name="Switchboard" if note else None,
        text=text,
        attachments=[],
        source_channel=ChannelKind.SLACK,
        source_id=source_id,
        now=now,
    )


def _delivery(message_id: int, conversation_id: int, channel: str, ref: str, key: str, now: datetime) -> dict[str, Any]:
    target = ExternalRef(channel=ChannelKind(channel), external_id=ref)
    return delivery_row(conversation_id=conversation_id, target=target, key=key, now=now) | {"message_id": message_id}


async def _insert_new_messages(conn: AsyncConnection, rows: list[dict[str, Any]]) -> dict[int, int]:
    """Insert the messages whose ``(source_channel, source_id)`` is new; conversation id -> new message id."""
    if not rows:
        return {}
    insert = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(MESSAGE)
    statement = insert.on_conflict_do_nothing(index_elements=["source_channel", "source_id"]).returning(
        MESSAGE.c.conversation_id, MESSAGE.c.id
    )
    return {int(row.conversation_id): int(row.id) for row in await conn.execute(statement, rows)}

"""This module renders one conversation as a plain-text transcript (issue 6, "Transcripts").

- For the customer (widget download, Telegram ``/transcript``): every message they can see, in order (theirs,
  the agents', the bridge's own texts; never internal notes nor deleted messages), with a translated header, each
  line's time formatted by Babel in their language and time zone, and files listed by name.
- For agents (the Slack card's Export): the same conversation in English, internal notes included and marked.

Two reads per transcript: the conversation (checked to be the customer's own) and its messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from bridge import texts
from bridge.engine import CONTACT, CONVERSATION, IDENTITY, MESSAGE
from bridge.events import AuthorKind, ExternalRef
from bridge.i18n import SOURCE_LOCALE, Catalogs
from bridge.model import as_utc
from bridge.store import Store

__all__ = ["NOTE_MARK", "Transcript", "Transcripts", "UnknownTimeZone"]

NOTE_MARK = "[internal note]"  # agents' export only: after the author of an internal note
_INDENT = "    "  # continuation lines of a message, and its files


class UnknownTimeZone(ValueError):
    """The time zone asked for is not an IANA name this machine knows."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    conversation_id: int
    locale: str
    text: str

    @property
    def filename(self) -> str:
        return f"transcript-{self.conversation_id}.txt"


@final
class Transcripts:
    """Renders transcripts; ``time_zone`` is the default for lines' times (the business time zone, or UTC)."""

    def __init__(self, store: Store, catalogs: Catalogs, *, time_zone: str = "UTC") -> None:
        _check_time_zone(time_zone)
        self._store = store
        self._catalogs = catalogs
        self._time_zone = time_zone

    async def for_customer(
        self,
        customer: ExternalRef,
        preferences: Sequence[str | None],
        *,
        conversation_id: int | None = None,
        time_zone: str | None = None,
    ) -> Transcript | None:
        """The customer's latest conversation, or ``conversation_id`` if it is theirs, in the locale negotiated
        from ``preferences``; None when they have no conversation (or not that one).

        Raises:
            UnknownTimeZone: ``time_zone`` is not a known IANA name.
        """
        zone = self._time_zone if time_zone is None else _check_time_zone(time_zone)
        where = [IDENTITY.c.channel == str(customer.channel), IDENTITY.c.external_id == customer.external_id]
        if conversation_id is not None:
            where.append(CONVERSATION.c.id == conversation_id)
        head = await self._head(*where)
        if head is None:
            return None
        return await self._render(head, self._catalogs.negotiate(preferences), zone, for_agents=False)

    async def for_agents(self, thread_ts: str) -> Transcript | None:
        """The conversation whose Slack thread is ``thread_ts``, in English with its internal notes; None when
        the thread is not a conversation's."""
        head = await self._head(CONVERSATION.c.slack_thread_ts == thread_ts)
        if head is None:
            return None
        return await self._render(head, SOURCE_LOCALE, self._time_zone, for_agents=True)

    async def _head(self, *where: sa.ColumnElement[bool]) -> Any:
        return await self._store.fetch_one(
            sa.select(CONVERSATION.c.id, CONVERSATION.c.created_at, CONTACT.c.display_name)
            .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
            .join(CONTACT, CONTACT.c.id == CONVERSATION.c.contact_id)
            .where(*where)
            .order_by(CONVERSATION.c.id.desc())
            .limit(1)
        )

    async def _render(self, head: Any, locale: str, zone: str, *, for_agents: bool) -> Transcript:
        query = (
            sa.select(
                MESSAGE.c.author_kind,
                MESSAGE.c.author_name,
                MESSAGE.c.text,
                MESSAGE.c.attachments,
                MESSAGE.c.created_at,
            )
            .where(MESSAGE.c.conversation_id == head.id, MESSAGE.c.deleted_at.is_(None))
            .order_by(MESSAGE.c.id)
        )
        if not for_agents:
            query = query.where(MESSAGE.c.author_kind != AuthorKind.NOTE)
        catalogs = self._catalogs
        started = catalogs.format_datetime(locale, as_utc(head.created_at), zone, width="long")
        lines = [
            catalogs.gettext(locale, texts.TRANSCRIPT_TITLE),
            catalogs.gettext(locale, texts.TRANSCRIPT_NUMBER, number=head.id),
            catalogs.gettext(locale, texts.TRANSCRIPT_STARTED, when=started),
            "",
        ]
        for row in await self._store.fetch_all(query):
            when = catalogs.format_datetime(locale, as_utc(row.created_at), zone)
            body = (row.text or "").splitlines() or [""]
            lines.append(f"[{when}] {self._author(row, locale, for_agents=for_agents)}: {body[0]}")
            lines.extend(_INDENT + line for line in body[1:])
            for attachment in row.attachments or ():
                name = str(attachment.get("name") or "")
                lines.append(_INDENT + catalogs.gettext(locale, texts.TRANSCRIPT_ATTACHMENT, name=name))
        return Transcript(conversation_id=int(head.id), locale=locale, text="\n".join(lines) + "\n")

    def _author(self, row: Any, locale: str, *, for_agents: bool) -> str:
        def widget(key: str) -> str:
            return self._catalogs.pgettext(locale, texts.WIDGET_CONTEXT, texts.WIDGET_STRINGS[key])

        match row.author_kind:
            case AuthorKind.CUSTOMER:
                return (row.author_name or "Customer") if for_agents else widget("you")
            case AuthorKind.AGENT:
                return row.author_name or widget("agent")
            case AuthorKind.NOTE:
                return f"{row.author_name or widget('agent')} {NOTE_MARK}"
            case _:
                return widget("support_team")


def _check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZone(f"unknown time zone {name[:64]!r}") from exc
    return name

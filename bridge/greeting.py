"""This module contains what the bridge itself says to customers in their language: the greeting of a new
conversation, the confirmation of a chosen language, and the reasons of errors the customer can see.

The greeting is stored in the transaction that creates the conversation (``Engine(on_open=Greeter(...))``)
under a key derived from the conversation id, so every conversation greets its customer exactly once; it is a
system message delivered to the customer only, never posted in the Slack thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import final

import sqlalchemy as sa
from babel import Locale
from babel.numbers import format_decimal
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge import texts
from bridge.desk import tell_customer
from bridge.engine import CHOSEN_LOCALE, CONTACT, CONVERSATION, IDENTITY, Opened
from bridge.events import ExternalRef
from bridge.hours import BusinessHours
from bridge.i18n import Catalogs, own_name, parse_locale
from bridge.model import ConversationStatus, utcnow
from bridge.store import Store

__all__ = ["CustomerTexts", "greeting_key", "offline_key"]

# Widget error codes whose reason the customer reads, and the text each shows.
_ERROR_TEXTS = {
    "rate_limited": texts.RATE_LIMITED,
    "too_long": texts.MESSAGE_TOO_LONG,
    "no_conversation": texts.NO_TRANSCRIPT,
}


def greeting_key(conversation_id: int) -> str:
    """The idempotency key (message source id) of a conversation's greeting."""
    return f"greeting:{conversation_id}"


def offline_key(conversation_id: int) -> str:
    """The idempotency key (message source id) of a conversation's offline notice."""
    return f"offline:{conversation_id}"


@final
class CustomerTexts:
    """Renders the bridge's own texts for a customer; ``greet`` is the engine's ``on_open`` hook."""

    def __init__(
        self,
        catalogs: Catalogs,
        store: Store | None = None,
        *,
        greeting: bool = True,
        hours: BusinessHours | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.catalogs = catalogs
        self._store = store
        self._greeting = greeting
        self._hours = hours
        self._clock = clock

    @property
    def on_open(self) -> Callable[[AsyncConnection, Opened], Awaitable[None]] | None:
        """The engine's ``on_open`` hook: the greeting (if on), then the offline notice (outside business
        hours); None when there is nothing to say."""
        if not self._greeting and (self._hours is None or self._hours.always_open):
            return None
        return self.open_conversation

    async def open_conversation(self, conn: AsyncConnection, opened: Opened) -> None:
        """Greet a just-created conversation's customer (if on) and tell them when agents are back if away."""
        if self._greeting:
            await self.greet(conn, opened)
        text = self.offline_notice(opened.locale)
        if text is not None:
            key = offline_key(opened.conversation_id)
            await tell_customer(conn, opened.conversation_id, opened.customer, text, key=key)

    def offline_notice(self, locale: str) -> str | None:
        """OFFLINE with the next opening in the customer's locale and the business time zone; None when open."""
        if self._hours is None:
            return None
        back = self._hours.next_opening(self._clock())
        if back is None:
            return None
        when = self.catalogs.format_datetime(locale, back, self._hours.timezone)
        return self.catalogs.gettext(locale, texts.OFFLINE, when=when)

    async def locale_of(self, customer: ExternalRef, preferences: Sequence[str | None]) -> str:
        """The customer's language: their open conversation's, else their explicit choice, else negotiated."""
        if self._store is not None:
            by_customer = (IDENTITY.c.channel == str(customer.channel), IDENTITY.c.external_id == customer.external_id)
            row = await self._store.fetch_one(
                sa.select(CONVERSATION.c.locale)
                .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
                .where(*by_customer, CONVERSATION.c.status != ConversationStatus.RESOLVED)
                .order_by(CONVERSATION.c.id.desc())
                .limit(1)
            )
            if row is not None:
                return str(row.locale)
            row = await self._store.fetch_one(
                sa.select(CONTACT.c.attributes)
                .join(IDENTITY, IDENTITY.c.contact_id == CONTACT.c.id)
                .where(*by_customer)
            )
            if row is not None and (row.attributes or {}).get(CHOSEN_LOCALE):
                return str(row.attributes[CHOSEN_LOCALE])
        return self.catalogs.negotiate(preferences)

    def greeting(self, locale: str, name: str | None) -> str:
        """GREETING_NAMED with the customer's first name when known, else GREETING."""
        first = (name or "").split()
        if first:
            return self.catalogs.gettext(locale, texts.GREETING_NAMED, name=first[0])
        return self.catalogs.gettext(locale, texts.GREETING)

    async def greet(self, conn: AsyncConnection, opened: Opened) -> None:
        """Store the greeting of a just-created conversation and its delivery to the customer."""
        text = self.greeting(opened.locale, opened.name)
        key = greeting_key(opened.conversation_id)
        await tell_customer(conn, opened.conversation_id, opened.customer, text, key=key)

    def error_reason(self, preferences: Sequence[str | None], code: str, limit: int | None = None) -> str | None:
        """The customer-facing reason of a widget error in their language; None for codes the customer never
        reads (the widget's own protocol errors keep their English reason)."""
        msgid = _ERROR_TEXTS.get(code)
        if msgid is None:
            return None
        locale = self.catalogs.negotiate(preferences)
        if limit is None:
            return self.catalogs.gettext(locale, msgid)
        return self.catalogs.gettext(locale, msgid, limit=format_decimal(limit, locale=_babel(locale)))

    def file_too_large(self, preferences: Sequence[str | None], limit_bytes: int) -> str:
        """FILE_TOO_LARGE with the limit formatted for the customer's locale (e.g. "20 MB", "20 MB", "20 МБ")."""
        locale = self.catalogs.negotiate(preferences)
        limit = f"{format_decimal(limit_bytes / 2**20, format='#,##0.#', locale=_babel(locale))} MB"
        return self.catalogs.gettext(locale, texts.FILE_TOO_LARGE, limit=limit)

    def languages(self) -> list[tuple[str, str]]:
        """Every available locale with its name in its own language, for a language picker."""
        return [(locale, own_name(locale)) for locale in self.catalogs.available]

    def language_chosen(self, locale: str) -> str:
        """The confirmation of an explicit language choice, in that language."""
        return self.catalogs.gettext(locale, texts.LANGUAGE_CHOSEN, language=own_name(locale))

    def language_prompt(self, preferences: Sequence[str | None]) -> str:
        """The question above the language keyboard."""
        locale = self.catalogs.negotiate(preferences)
        return self.catalogs.gettext(locale, texts.CHOOSE_LANGUAGE)


def _babel(locale: str) -> Locale:
    return parse_locale(locale) or Locale("en")

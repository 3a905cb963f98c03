"""This module contains CustomerCommands: what a Telegram customer asks of the bot itself, in their language.

- ``/start`` (Telegram sends it when a customer opens the bot) becomes a ``CustomerHello``: the conversation is
  opened and greeted, and no "/start" message appears in the agents' Slack thread.
- ``/language`` is answered with an inline keyboard of the available languages (not stored: agents never see
  it); pressing one (``lang:<locale>``) stores a ``LocaleChoice``, answers the callback query and confirms in
  the chosen language. The choice beats Telegram's ``language_code`` from then on.
- ``/transcript`` is answered with the customer's latest conversation as a document (``transcript-<n>.txt``)
  in their language (not stored either), or with a one-line NO_TRANSCRIPT when they never wrote.
- A file above the Bot API's 20 MB download limit gets the customer FILE_TOO_LARGE in their language (the
  agents already see a label for it in the thread).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, final

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bridge import texts as system_texts
from bridge.events import ChannelKind, CustomerHello, CustomerMessage, ExternalRef, Inbound, LocaleChoice
from bridge.greeting import CustomerTexts
from bridge.transcript import Transcripts
from channels.base import InboundSink
from channels.telegram.translate import MAX_DOWNLOAD

log = logging.getLogger("switchboard.telegram")

LANGUAGE_PREFIX = "lang:"
BUTTONS_PER_ROW = 2


def command_name(text: str) -> str | None:
    """``"/Start@my_bot payload"`` -> ``"start"``; None when the text is not a bot command."""
    if not text.startswith("/"):
        return None
    word = text.split(maxsplit=1)[0][1:]
    return word.split("@", 1)[0].lower() or None


def language_keyboard(languages: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One button per ``(locale, name)``, ``BUTTONS_PER_ROW`` a row; callback data ``lang:<locale>`` (≤ 64 bytes)."""
    buttons = [
        InlineKeyboardButton(name, callback_data=f"{LANGUAGE_PREFIX}{locale}")
        for locale, name in languages
        if len(f"{LANGUAGE_PREFIX}{locale}".encode()) <= 64
    ]
    return InlineKeyboardMarkup([buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)])


def language_query(update: Mapping[str, Any]) -> tuple[str, ExternalRef, str] | None:
    """A pressed language button in a private chat: (callback query id, the chat, the chosen locale)."""
    query = update.get("callback_query")
    if not isinstance(query, Mapping) or "id" not in query:
        return None
    data = str(query.get("data") or "")
    if not data.startswith(LANGUAGE_PREFIX):
        return None
    chat = (query.get("message") or {}).get("chat") or {}
    chat_id = chat.get("id") if chat else (query.get("from") or {}).get("id")
    if chat_id is None or chat.get("type", "private") != "private":
        return None
    customer = ExternalRef(channel=ChannelKind.TELEGRAM, external_id=str(chat_id))
    return str(query["id"]), customer, data.removeprefix(LANGUAGE_PREFIX)


@final
class CustomerCommands:
    """Handles ``/start``, ``/language``, ``/transcript``, language buttons and oversized files for
    ``TelegramChannel``."""

    def __init__(
        self, bot: Any, texts: CustomerTexts, sink: InboundSink, transcripts: Transcripts | None = None
    ) -> None:
        self._bot = bot
        self._texts = texts
        self._sink = sink
        self._transcripts = transcripts

    async def before(self, update: Mapping[str, Any], inbound: Inbound | None) -> tuple[Inbound | None, bool]:
        """What to store instead of ``inbound`` (None: nothing), and whether this update was handled here."""
        if isinstance(inbound, CustomerMessage) and not inbound.attachments:
            match command_name(inbound.text):
                case "start":
                    return CustomerHello(source=inbound.source, profile=inbound.profile), True
                case "language":
                    await self._offer_languages(inbound)
                    return None, True
                case "transcript" if self._transcripts is not None:
                    await self._send_transcript(inbound, self._transcripts)
                    return None, True
        if (query := language_query(update)) is not None:
            await self._choose(*query)
            return None, True
        return inbound, False

    async def after(self, inbound: Inbound) -> None:
        """After ``inbound`` was stored: tell the customer about files too large for the bot to fetch."""
        if not isinstance(inbound, CustomerMessage):
            return
        if not any(attachment.size > MAX_DOWNLOAD for attachment in inbound.attachments):
            return
        try:
            locale = await self._texts.locale_of(inbound.source, [inbound.profile.locale])
            text = self._texts.file_too_large([locale], MAX_DOWNLOAD)
            await self._bot.send_message(inbound.source.external_id, text)
        except Exception as exc:  # the message is stored; the notice is best effort
            log.warning("telegram: telling chat %s its file is too large failed: %s", inbound.source.external_id, exc)

    async def _offer_languages(self, inbound: CustomerMessage) -> None:
        locale = await self._texts.locale_of(inbound.source, [inbound.profile.locale])
        await self._bot.send_message(
            inbound.source.external_id,
            self._texts.language_prompt([locale]),
            reply_markup=language_keyboard(self._texts.languages()),
        )

    async def _send_transcript(self, inbound: CustomerMessage, transcripts: Transcripts) -> None:
        locale = await self._texts.locale_of(inbound.source, [inbound.profile.locale])
        chat = inbound.source.external_id
        found = await transcripts.for_customer(inbound.source, [locale])
        if found is None:
            await self._bot.send_message(chat, self._texts.catalogs.gettext(locale, system_texts.NO_TRANSCRIPT))
            return
        await self._bot.send_document(chat, found.text.encode(), filename=found.filename)

    async def _choose(self, query_id: str, customer: ExternalRef, wanted: str) -> None:
        if wanted not in self._texts.catalogs.available:
            await self._bot.answer_callback_query(query_id)
            return
        receipt = await self._sink(LocaleChoice(source=customer, locale=wanted))
        chosen = receipt.reason or wanted
        confirmation = self._texts.language_chosen(chosen)
        await self._bot.answer_callback_query(query_id, text=confirmation)
        await self._bot.send_message(customer.external_id, confirmation)

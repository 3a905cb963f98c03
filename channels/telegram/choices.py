"""This module contains choices on Telegram: an inline keyboard under a message, and the button a customer presses.

Each choice is a button with the callback data ``ch:<our message id>:<choice id>`` (at most 64 bytes, protocol
facts T5). A press arrives as a ``callback_query``; python-telegram-bot's ``CallbackQueryHandler`` (matching that
pattern) answers the query at once (the client's spinner stops), stores a ``CustomerChoice`` through the sink and
then removes the keyboard: the press was taken, or was stale. If the sink fails, PTB's error path hands the error
back to ``ChoiceButtons.handle``, which raises it, so Telegram delivers the press again (persist before ack).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, final

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackContext, CallbackQueryHandler, ContextTypes

from bridge.choices import is_press
from bridge.events import ChannelKind, Choice, CustomerChoice, ExternalRef, Profile
from channels.base import InboundSink

log = logging.getLogger("switchboard.telegram")

PREFIX = "ch:"
PATTERN = re.compile(rf"^{PREFIX}(\d{{1,10}}):([A-Za-z0-9_.:-]{{1,32}})$")
"""The callback data of a choice button: at most 3 + 10 + 1 + 32 = 46 bytes, under Telegram's 64."""
BUTTONS_PER_ROW = 5


def choice_keyboard(message_id: int, choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """The inline keyboard for our message ``message_id``: one button per choice, ``BUTTONS_PER_ROW`` a row."""
    buttons = [InlineKeyboardButton(c.label, callback_data=f"{PREFIX}{message_id}:{c.id}") for c in choices]
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)])


@final
class ChoiceButtons:
    """Presses of choice buttons, through a ``CallbackQueryHandler`` on the channel's PTB ``Application``."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], sink: InboundSink) -> None:
        self._application = application
        self._sink = sink
        self._handler = CallbackQueryHandler(self._pressed, pattern=PATTERN)
        self._failures: dict[int, BaseException] = {}
        application.add_handler(self._handler)
        application.add_error_handler(self._failed)

    async def handle(self, update: Mapping[str, Any]) -> bool:
        """Process ``update`` if it is a pressed choice button (True); raises when storing the press failed."""
        if not isinstance(update.get("callback_query"), Mapping):
            return False
        try:
            pressed = Update.de_json(dict(update), self._application.bot)
        except Exception as exc:  # TypeError, KeyError, ValueError ...: no update Telegram sends, so no press
            log.info("telegram: ignoring a callback query python-telegram-bot cannot read: %r", exc)
            return False
        if not isinstance(self._handler.check_update(pressed), re.Match):  # PTB passes a query without data: True
            return False
        await self._application.process_update(pressed)
        if (failure := self._failures.pop(pressed.update_id, None)) is not None:
            raise failure
        return True

    async def _failed(self, update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        """PTB's error handler: a press that was not stored goes back to ``handle``; anything else is logged."""
        if isinstance(update, Update) and context.error is not None and self._handler.check_update(update):
            self._failures[update.update_id] = context.error
        else:
            log.error("telegram: a handler failed on %r", update, exc_info=context.error)

    async def _pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not context.matches:
            return
        await _answer(query)
        chat = query.message.chat if query.message is not None else None
        message_id, choice = int(context.matches[0].group(1)), context.matches[0].group(2)
        if chat is None or chat.type != ChatType.PRIVATE or not is_press(message_id, choice):
            return
        receipt = await self._sink(
            CustomerChoice(
                source=ExternalRef(channel=ChannelKind.TELEGRAM, external_id=str(chat.id)),
                source_id=f"{chat.id}:choice:{message_id}",
                message_id=message_id,
                choice=choice,
                profile=Profile(display_name=query.from_user.full_name, locale=query.from_user.language_code),
            )
        )
        log.debug("telegram: choice %s on message %s -> %s", choice, message_id, receipt.status)
        try:  # taken or stale: either way the question is settled, so its buttons go
            await query.edit_message_reply_markup(reply_markup=None)
        except TelegramError as exc:  # "not modified": a second press already removed them
            if not (isinstance(exc, BadRequest) and "not modified" in exc.message.lower()):
                log.info("telegram: could not remove the choices of message %s: %s", message_id, exc)


async def _answer(query: CallbackQuery) -> None:
    """Stop the client's spinner; a redelivered press was answered the first time (Telegram refuses a second)."""
    try:
        await query.answer()
    except TelegramError as exc:
        log.info("telegram: callback query %s not answered: %s", query.id, exc)

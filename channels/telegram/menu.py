"""This module contains the bot's command menu: /start, /language and /transcript, described in each language.

Telegram shows a bot's commands in the chat's **Menu** button and suggests them when the customer types ``/``,
but only the commands the bot registered with ``setMyCommands``. Without them a customer has no way to learn
that ``/transcript`` or ``/language`` exist. The list is registered once per catalog language
(``language_code`` is the two-letter code Telegram matches against the customer's app language) and once
without a language, in the default locale, for everyone else.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bridge import texts
from bridge.i18n import Catalogs

log = logging.getLogger("switchboard.telegram")

COMMANDS = (
    ("start", texts.COMMAND_START),
    ("language", texts.COMMAND_LANGUAGE),
    ("transcript", texts.COMMAND_TRANSCRIPT),
)


def menu(catalogs: Catalogs, locale: str) -> list[BotCommand]:
    """The command menu in ``locale``."""
    return [BotCommand(name, catalogs.gettext(locale, description)) for name, description in COMMANDS]


def menu_languages(catalogs: Catalogs) -> dict[str, str]:
    """Telegram's two-letter ``language_code`` -> the catalog locale that speaks it (``pt`` -> ``pt_BR``)."""
    languages: dict[str, str] = {}
    for locale in catalogs.available:
        languages.setdefault(locale.split("_", 1)[0].lower(), locale)
    return languages


async def publish_menu(bot: ExtBot[Any], catalogs: Catalogs) -> None:
    """Register the menu for every catalog language and the default; a refusal is logged, never fatal."""
    try:
        await bot.set_my_commands(menu(catalogs, catalogs.default_locale))
        for code, locale in menu_languages(catalogs).items():
            await bot.set_my_commands(menu(catalogs, locale), language_code=code)
    except TelegramError as exc:
        log.warning("telegram: cannot register the command menu (setMyCommands): %s", exc)

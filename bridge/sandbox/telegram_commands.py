"""This module keeps the bot's command menus (``setMyCommands``) as the Bot API server does, per language.

A Telegram app shows the menu registered for its user's language (``language_code``, two letters) and falls back
to the one registered without a language. Only the default scope is modelled: the bridge talks in private chats.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
MAX_COMMANDS = 100
MAX_DESCRIPTION = 256

Json = dict[str, object]


class BotCommands:
    """The menus the bot registered, keyed by language code ("" for everyone without a dedicated one)."""

    def __init__(self, bad_request: Callable[[str], Exception]) -> None:
        self._bad_request = bad_request
        self._menus: dict[str, list[Json]] = {}

    def set(self, commands: object, language_code: str | None, scope: object) -> None:
        """``setMyCommands``: validate like the server (400 on a bad command), then replace that language's menu."""
        language = self._language(language_code, scope)
        if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
            raise self._bad_request("commands must be an array of at most 100 BotCommand")
        menu: list[Json] = []
        for item in commands:
            name = str(item.get("command", "")) if isinstance(item, dict) else ""
            description = str(item.get("description", "")).strip() if isinstance(item, dict) else ""
            if not _COMMAND.match(name.removeprefix("/")):
                raise self._bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= MAX_DESCRIPTION:
                raise self._bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            menu.append({"command": name.removeprefix("/"), "description": description})
        if menu:
            self._menus[language] = menu
        else:
            self._menus.pop(language, None)

    def get(self, language_code: str | None, scope: object) -> list[Json]:
        """``getMyCommands``: exactly the list registered for that language (empty when none)."""
        return list(self._menus.get(self._language(language_code, scope), []))

    def delete(self, language_code: str | None, scope: object) -> None:
        """``deleteMyCommands``."""
        self._menus.pop(self._language(language_code, scope), None)

    def for_user(self, language_code: str | None) -> list[Json]:
        """The menu a user's app shows: their language's, else the one without a language."""
        language = (language_code or "")[:2].lower()
        return list(self._menus.get(language) or self._menus.get("", []))

    def _language(self, language_code: str | None, scope: object) -> str:
        if scope not in (None, {"type": "default"}):
            raise self._bad_request("only the default scope is supported by this emulator")
        if language_code and not _LANGUAGE.match(language_code):
            raise self._bad_request("invalid language code specified")
        return language_code or ""

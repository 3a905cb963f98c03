"""Telegram customers find /start, /language and /transcript in the bot's Menu, described in their language.

Before, the bridge registered no commands (setMyCommands), so Telegram showed no Menu button: a customer could
not learn that /transcript or /language exist.
"""

from __future__ import annotations

from bridge import texts
from bridge.sandbox.telegram import TelegramEmulator
from tests.support.harness import Harness


def _menu(telegram: TelegramEmulator, language_code: str | None) -> dict[str, str]:
    return {c["command"]: str(c["description"]) for c in telegram.bot_commands.for_user(language_code)}


async def test_the_bot_registers_its_menu_in_every_catalog_language(telegram_harness: Harness) -> None:
    telegram = telegram_harness.telegram
    assert telegram is not None
    english = {"start": texts.COMMAND_START, "language": texts.COMMAND_LANGUAGE, "transcript": texts.COMMAND_TRANSCRIPT}
    assert _menu(telegram, None) == english  # a language without a catalog gets the default locale's
    assert _menu(telegram, "fr") == english
    assert _menu(telegram, "ru")["transcript"] == "Получить последний разговор текстовым файлом"
    assert _menu(telegram, "pt-br")["language"] == "Escolher o idioma em que escrevemos para você"  # pt_BR, as "pt"
    assert _menu(telegram, "zh-hans")["start"] == "与我们的支持团队开始对话"
    requests = [params for name, params in telegram.requests if name == "setMyCommands"]
    assert sorted(p.get("language_code", "") for p in requests) == [
        "",
        "ar",
        "en",
        "es",
        "id",
        "lt",
        "pt",
        "ru",
        "tr",
        "zh",
    ]

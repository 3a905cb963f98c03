"""The Telegram emulator keeps the bot's command menus (setMyCommands) per language, as the Bot API does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats
from telegram.error import BadRequest
from telegram.ext import Application

from bridge.sandbox.telegram import TelegramEmulator, serve

TOKEN = "123456:SANDBOX"


@pytest.fixture
async def bot_and_emulator() -> AsyncIterator[tuple[Bot, TelegramEmulator]]:
    emulator = TelegramEmulator(token=TOKEN)
    async with serve(emulator) as url:
        app = Application.builder().token(TOKEN).base_url(f"{url}/bot").updater(None).build()
        async with app:
            yield app.bot, emulator


async def test_each_language_sees_its_menu_and_the_rest_the_default(
    bot_and_emulator: tuple[Bot, TelegramEmulator],
) -> None:
    bot, emulator = bot_and_emulator
    assert await bot.set_my_commands([BotCommand("transcript", "Get your conversation")])
    assert await bot.set_my_commands([BotCommand("transcript", "Получить разговор")], language_code="ru")

    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == ["Получить разговор"]
    assert emulator.bot_commands.for_user("ru") == [{"command": "transcript", "description": "Получить разговор"}]
    assert emulator.bot_commands.for_user("pt-br")[0]["description"] == "Get your conversation"
    assert emulator.bot_commands.for_user(None)[0]["description"] == "Get your conversation"

    assert await bot.delete_my_commands(language_code="ru")
    assert await bot.get_my_commands(language_code="ru") == ()
    assert emulator.bot_commands.for_user("ru")[0]["description"] == "Get your conversation"


@pytest.mark.parametrize(
    ("commands", "language", "error"),
    [
        ([BotCommand("Transcript", "x")], None, "BOT_COMMAND_INVALID"),
        ([BotCommand("transcript", " ")], None, "BOT_COMMAND_DESCRIPTION_INVALID"),
        ([BotCommand("transcript", "x" * 257)], None, "BOT_COMMAND_DESCRIPTION_INVALID"),
        ([BotCommand("transcript", "ok")], "pt_BR", "invalid language code specified"),
    ],
)
async def test_a_bad_menu_is_refused_and_the_old_one_kept(
    bot_and_emulator: tuple[Bot, TelegramEmulator], commands: list[BotCommand], language: str | None, error: str
) -> None:
    bot, emulator = bot_and_emulator
    await bot.set_my_commands([BotCommand("start", "Start")])
    with pytest.raises(BadRequest, match=f"(?i){error}"):
        await bot.set_my_commands(commands, language_code=language)
    assert emulator.bot_commands.for_user(None) == [{"command": "start", "description": "Start"}]


async def test_other_scopes_are_refused_rather_than_ignored(bot_and_emulator: tuple[Bot, TelegramEmulator]) -> None:
    bot, _ = bot_and_emulator
    with pytest.raises(BadRequest, match="(?i)only the default scope"):
        await bot.set_my_commands([BotCommand("start", "Start")], scope=BotCommandScopeAllPrivateChats())

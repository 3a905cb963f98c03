"""The customers' Telegram side: private chats with the bot, on python-telegram-bot (webhook or polling)."""

from channels.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel"]

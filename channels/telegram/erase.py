"""This module contains the deletion of a person's Telegram copies for ``switchboard contact erase``.

The bot's own replies in the customer's chat are deleted with ``deleteMessage``. Telegram lets a bot delete a
message only within 48 hours of sending it, so older replies stay and are listed, with Telegram's reason, for the
operator's report. The customer's own messages are theirs: they stay in their Telegram app (they can delete them
there) and are listed per chat. A reply split into several Telegram messages records only its first part's id:
later parts are not known, and stay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bridge.config import TelegramSettings
from bridge.gdpr import CopiesErased, Leftover, TelegramCopy
from channels.telegram.errors import retry_after

__all__ = ["erase_telegram_copies", "eraser_bot"]

MAX_WAIT = 60.0  # seconds: the longest flood-control wait honoured before a message is listed instead
GONE = "message to delete not found"  # deleted before (by the customer, or an erase that stopped midway)


def eraser_bot(settings: TelegramSettings) -> Bot:
    """A plain Bot API client on the configured URLs (``async with`` it: ``getMe`` checks the token)."""
    return Bot(settings.bot_token, base_url=settings.api_url, base_file_url=settings.file_url)


async def erase_telegram_copies(bot: Bot | None, copies: Sequence[TelegramCopy]) -> CopiesErased:
    """Delete the bot's replies (``bot`` None: Telegram is not configured, all are listed); list what stays."""
    result = CopiesErased()
    own: dict[str, list[str]] = {}
    for copy in copies:
        if not copy.by_bot:
            own.setdefault(copy.chat_id, []).append(copy.message_id)
            continue
        where = f"chat {copy.chat_id} message {copy.message_id}"
        if bot is None:
            result.leftovers.append(_leftover(where, "TELEGRAM_BOT_TOKEN is not set: not deleted"))
            continue
        reason = await _delete(bot, copy)
        if reason is None:
            result.deleted += 1
        elif reason != GONE:
            result.leftovers.append(_leftover(where, reason))
    for chat_id, ids in own.items():
        listed = ", ".join(sorted(ids, key=int))
        reason = f"{len(ids)} messages the customer sent stay in their own Telegram app (message ids {listed})"
        result.leftovers.append(_leftover(f"chat {chat_id}", reason))
    return result


async def _delete(bot: Bot, copy: TelegramCopy) -> str | None:
    """None when deleted; else why not (``GONE`` when it was not there)."""
    if not copy.message_id.isdigit():
        return f"not a Telegram message id: {copy.message_id!r}"
    for _ in range(3):
        try:
            await bot.delete_message(chat_id=copy.chat_id, message_id=int(copy.message_id))
        except RetryAfter as exc:
            wait = retry_after(exc).total_seconds()
            if wait > MAX_WAIT:
                return f"Telegram asked to wait {wait:.0f} s (flood control)"
            await asyncio.sleep(wait)
            continue
        except BadRequest as exc:
            message = exc.message.lower()
            if GONE in message:
                return GONE
            if "can't be deleted" in message:
                return f"Telegram refused ({exc.message}): a bot may delete only messages from the last 48 hours"
            return f"Telegram refused: {exc.message}"
        except Forbidden as exc:
            return f"Telegram refused: {exc.message}"
        except TelegramError as exc:
            return f"deleteMessage failed: {exc}"
        return None
    return "Telegram kept asking to wait (flood control)"


def _leftover(where: str, reason: str) -> Leftover:
    return Leftover(platform="telegram", where=where, reason=reason)

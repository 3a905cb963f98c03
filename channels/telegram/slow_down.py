"""This module contains SlowDown: what happens to a Telegram message that an abuse limit refused.

The desk refuses a message over its conversation's limit a minute (``bridge.abuse``) with a LIMITED receipt.
Telegram cannot be told "try again later" (it would redeliver the update for a day), so the update is
acknowledged and the message dropped: a log line each time, and the customer hears RATE_LIMITED in their
language at most once a minute (a notice per dropped message would itself be a flood).
"""

from __future__ import annotations

import logging
from typing import Any, final

from bridge.abuse import PerMinute
from bridge.events import CustomerMessage, Receipt
from bridge.greeting import CustomerTexts

log = logging.getLogger("switchboard.telegram")


@final
class SlowDown:
    """Logs a refused message and tells its customer to slow down, once a minute per chat at most."""

    def __init__(self, bot: Any, texts: CustomerTexts | None) -> None:
        self._bot = bot
        self._texts = texts  # None: no catalogs (a bare channel in tests): the message is only logged
        self._told = PerMinute(1)  # chats told this minute

    async def refused(self, inbound: CustomerMessage, receipt: Receipt) -> None:
        chat = inbound.source.external_id
        log.warning("telegram: dropped message %s of chat %s: %s", inbound.source_id, chat, receipt.reason)
        if self._texts is None or not self._told.allow(chat):
            return
        try:
            locale = await self._texts.locale_of(inbound.source, [inbound.profile.locale])
            text = self._texts.error_reason([locale], "rate_limited")
            if text:
                await self._bot.send_message(chat, text)
        except Exception as exc:  # best effort: the message is dropped either way
            log.warning("telegram: telling chat %s to slow down failed: %s", chat, exc)

"""This module contains TelegramChannel: customers in private chats with the bot, on python-telegram-bot."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import orjson
from aiohttp import web
from telegram import Update
from telegram.error import BadRequest, Conflict, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ExtBot

from bridge.attachments import AttachmentUnavailable, Fetchers
from bridge.config import TelegramSettings
from bridge.events import (
    Attachment,
    ChannelKind,
    CustomerMessage,
    Delivered,
    ExternalRef,
    Outbound,
    OutboundCard,
    OutboundEdit,
    OutboundText,
    ReceiptStatus,
    Undeliverable,
)
from bridge.greeting import CustomerTexts
from bridge.transcript import Transcripts
from channels.base import ChannelStartupError, InboundSink
from channels.telegram.choices import ChoiceButtons, choice_keyboard
from channels.telegram.commands import CustomerCommands
from channels.telegram.errors import retry_after, to_delivery_error
from channels.telegram.media import MediaSender
from channels.telegram.menu import publish_menu
from channels.telegram.slow_down import SlowDown
from channels.telegram.translate import (
    ALLOWED_UPDATES,
    FILE_URL_SCHEME,
    MAX_DOWNLOAD,
    MalformedUpdate,
    callback_query,
    edit_text,
    message_texts,
    to_inbound,
)

# PTB 22 warns on every ``RetryAfter`` unless its timedelta behaviour is switched on; we want timedeltas.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger("switchboard.telegram")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_TIMEOUT = 10
POLL_BACKOFF_START = 1.0
POLL_BACKOFF_MAX = 30.0
SEEN_UPDATES = 4096


class TelegramStartupError(ChannelStartupError):
    """The Bot API refused the token or could not be reached at start."""


class _SeenUpdates:
    """The most recent ``update_id``s handled, so a redelivered update skips the sink."""

    def __init__(self, size: int = SEEN_UPDATES) -> None:
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._size = size

    def __contains__(self, update_id: object) -> bool:
        return update_id in self._ids

    def add(self, update_id: int) -> None:
        self._ids[update_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)


OVERALL_PER_SECOND = 27
"""Sends a second to all chats together. Telegram's limit is 30 in any one second; PTB's default limiter is a leaky
bucket holding 30 (a burst of 30, then 30 a second: up to 59 in the first second, which the emulator counts as a
flood). A bucket of one lets at most 1 + 27 through in any second, with room for network jitter."""


class _ChatPacer:
    """Telegram allows ~1 message/s per chat after a short burst; wait instead of earning a 429."""

    def __init__(self, burst: float = 3.0, per_second: float = 1.0) -> None:
        self._burst, self._rate = burst, per_second
        self._buckets: dict[str, tuple[float, float]] = {}

    async def wait(self, chat_id: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(chat_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        delay = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate
        self._buckets[chat_id] = (tokens - 1.0, now)
        if delay:
            await asyncio.sleep(delay)


class TelegramChannel:
    """Customers in private chats with the bot: updates become ``Inbound``, deliveries ``sendMessage``.

    Webhook mode serves ``POST /telegram/webhook`` (secret header checked in constant time) and
    answers 200 only after ``sink`` stored the update, so Telegram redelivers anything not
    stored. Polling mode runs one ``getUpdates`` loop that confirms an offset only after the
    batch before it was stored. Redeliveries are dropped by ``update_id`` and, durably, by the
    message's ``chat_id:message_id`` source id.
    """

    kind: ClassVar[ChannelKind] = ChannelKind.TELEGRAM

    def __init__(
        self,
        *,
        settings: TelegramSettings,
        sink: InboundSink,
        webhook_url: str | None = None,
        fetchers: Fetchers | None = None,
        customer_texts: CustomerTexts | None = None,
        transcripts: Transcripts | None = None,
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._webhook_url = webhook_url
        self._fetchers = fetchers  # where ``telegram-file:`` URLs become bytes for the other channels
        self._media = MediaSender(fetchers) if fetchers is not None else None  # agents' files, fetched from Slack
        self.application = (
            Application.builder()
            .token(settings.bot_token)
            .base_url(settings.api_url)
            .base_file_url(settings.file_url)
            .rate_limiter(AIORateLimiter(overall_max_rate=1, overall_time_period=1 / OVERALL_PER_SECOND, max_retries=0))
            .updater(None)
            .build()
        )
        # /start, /language, /transcript, language buttons and oversized files, in the customer's language
        self._commands = (
            CustomerCommands(self.bot, customer_texts, sink, transcripts) if customer_texts is not None else None
        )
        self._choices = ChoiceButtons(self.application, sink)  # buttons under our messages (the survey's 1-5)
        self._slow_down = SlowDown(self.bot, customer_texts)  # messages over the desk's limit a minute: dropped
        self._catalogs = customer_texts.catalogs if customer_texts is not None else None  # the command menu's
        self._seen = _SeenUpdates()
        self._pacer = _ChatPacer()
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._offset: int | None = None

    @property
    def bot(self) -> ExtBot[Any]:
        return self.application.bot

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [web.post(WEBHOOK_PATH, self._handle_webhook)] if self._settings.mode == "webhook" else []

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Check the token (``getMe``), then register the webhook or start polling."""
        try:
            await self.application.initialize()
        except TelegramError as exc:
            await self.bot.shutdown()  # Application.shutdown() skips an app that never initialized
            raise TelegramStartupError(f"Telegram rejected TELEGRAM_BOT_TOKEN or is unreachable: {exc}") from exc
        await self.application.start()
        log.info("telegram: connected as @%s (%s mode)", self.bot.username, self._settings.mode)
        if self._catalogs is not None:
            await publish_menu(self.bot, self._catalogs)  # the Menu button: /start, /language, /transcript
        if self._fetchers is not None:
            self._fetchers.register(FILE_URL_SCHEME.rstrip(":"), self.fetch_file)
        try:
            await self._start_receiving()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start_receiving(self) -> None:
        if self._settings.mode == "polling":
            await self.bot.delete_webhook()
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")
        elif self._webhook_url:
            await self.bot.set_webhook(
                self._webhook_url, secret_token=self._settings.webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
        else:
            log.info("telegram: webhook mode without a public URL; register %s with setWebhook yourself", WEBHOOK_PATH)

    async def __aexit__(self, *exc: object) -> None:
        if self._fetchers is not None:
            self._fetchers.unregister(FILE_URL_SCHEME.rstrip(":"))
        await self._stop_polling()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def _stop_polling(self) -> None:
        if self._poller is None:
            return
        self._poller.cancel()
        await asyncio.gather(self._poller, return_exceptions=True)
        self._poller = None
        if self._offset is not None:  # confirm what was stored, as PTB's Updater does on stop
            try:
                await self.bot.get_updates(offset=self._offset, timeout=0, limit=1)
            except TelegramError as exc:
                log.debug("telegram: final offset confirmation failed: %s", exc)

    # --- inbound --------------------------------------------------------------------------

    async def _handle_webhook(self, request: web.Request) -> web.Response:
        secret = self._settings.webhook_secret or ""
        given = request.headers.get(SECRET_HEADER, "")  # invalid UTF-8 arrives as lone surrogates: back to its bytes
        if not secret or not hmac.compare_digest(given.encode(errors="surrogateescape"), secret.encode()):
            log.warning("telegram: webhook call with a missing or wrong secret token from %s", request.remote)
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            update = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.json_response({"error": "an Update object was expected"}, status=400)
        try:
            await self.handle_update(update)  # raising -> 500 -> Telegram redelivers: persist before ack
        except MalformedUpdate as exc:
            # No shape Telegram sends, yet signed with our secret: a redelivery would not help, and Telegram sends a
            # chat's updates one at a time, so any non-2xx would hold that chat's later messages for up to 23 h
            # (tdlib queues updates per chat: head-of-line). Acknowledged, nothing stored, and said in one line here.
            log.warning("telegram: update %s refused, nothing stored: malformed update: %s", update["update_id"], exc)
        return web.Response(status=200)

    async def handle_update(self, update: Mapping[str, Any]) -> None:
        """Store one update through the sink (skipping a known ``update_id``); raises if the sink does."""
        update_id = update.get("update_id")
        if update_id in self._seen:
            log.debug("telegram: update %s already handled", update_id)
            return
        inbound = to_inbound(update)
        handled = await self._choices.handle(update)
        if self._commands is not None and not handled:
            inbound, handled = await self._commands.before(update, inbound)
        if inbound is not None:
            receipt = await self._sink(inbound)
            log.debug("telegram: update %s -> %s", update_id, receipt.status)
            if receipt.status is ReceiptStatus.LIMITED and isinstance(inbound, CustomerMessage):
                await self._slow_down.refused(inbound, receipt)
            elif self._commands is not None:
                await self._commands.after(inbound)
        elif not handled:
            self._side_effects(update)
        if isinstance(update_id, int):
            self._seen.add(update_id)

    def _side_effects(self, update: Mapping[str, Any]) -> None:
        if (query := callback_query(update)) is not None:
            self._background(self.bot.answer_callback_query(query[0]))

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("telegram: background call failed: %s", exc)

    async def _poll(self) -> None:
        """Long-poll ``getUpdates``; the offset moves past an update only once the sink stored it."""
        backoff = POLL_BACKOFF_START
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                )
                await self._handle_batch(updates)
                backoff = POLL_BACKOFF_START
            except Conflict as exc:
                log.error("telegram: polling stopped, another bot instance or a webhook owns the updates: %s", exc)
                return
            except RetryAfter as exc:
                await asyncio.sleep(retry_after(exc).total_seconds())
            except Exception as exc:  # NetworkError, TimedOut or a failing sink: retry the same batch
                log.warning("telegram: polling failed (%s: %s); retrying in %.0f s", type(exc).__name__, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(POLL_BACKOFF_MAX, backoff * 2)

    async def _handle_batch(self, updates: Sequence[Update]) -> None:
        """Store a ``getUpdates`` batch: each chat's updates in order, the chats side by side (so their messages
        share group commits instead of waiting for one commit each). The offset moves past every update up to the
        first that failed, which is raised: the retry fetches it again, and what was stored after it is
        redelivered and deduplicated."""
        chats: dict[int | None, list[Update]] = {}
        for update in updates:
            chats.setdefault(update.effective_chat.id if update.effective_chat else None, []).append(update)

        async def in_order(chat_updates: list[Update]) -> None:
            for update in chat_updates:
                try:
                    await self.handle_update(update.to_dict())
                except Exception as exc:
                    failed.append((update.update_id, exc))
                    return

        failed: list[tuple[int, Exception]] = []
        await asyncio.gather(*(in_order(chat_updates) for chat_updates in chats.values()))
        if failed:
            first_id, exc = min(failed, key=lambda item: item[0])
            self._offset = max(self._offset or 0, first_id)
            raise exc
        if updates:
            self._offset = updates[-1].update_id + 1

    # --- outbound -------------------------------------------------------------------------

    async def deliver(self, out: Outbound) -> Delivered:
        try:
            match out:
                case OutboundText():
                    return await self._send(out)
                case OutboundEdit():
                    return await self._edit(out)
                case OutboundCard():
                    raise Undeliverable("telegram does not show conversation cards")
        except Undeliverable:
            raise
        except Exception as exc:
            raise to_delivery_error(exc) from exc

    async def _send(self, out: OutboundText) -> Delivered:
        if out.attachments and self._media is not None:
            return await self._media.send(self.bot, out, self._pacer.wait)
        texts = [text for text in message_texts(out) if text.strip()]
        if not texts:
            raise Undeliverable("empty message")
        first: int | None = None
        keyboard = choice_keyboard(out.message_id, out.choices)  # under the last part, where the question ends
        for index, text in enumerate(texts, 1):
            await self._pacer.wait(out.target.external_id)
            markup = keyboard if index == len(texts) else None
            message = await self.bot.send_message(out.target.external_id, text, parse_mode="HTML", reply_markup=markup)
            first = first or message.message_id
        return Delivered(remote_id=str(first))

    async def _edit(self, out: OutboundEdit) -> Delivered:
        await self._pacer.wait(out.target.external_id)
        try:
            await self.bot.edit_message_text(
                edit_text(out.text), chat_id=out.target.external_id, message_id=int(out.remote_id), parse_mode="HTML"
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise
        return Delivered(remote_id=out.remote_id)

    async def fetch_file(self, attachment: Attachment) -> tuple[bytes, str]:
        """The bytes behind a ``telegram-file:<file_id>`` URL (``getFile``, then a download)."""
        too_large = f"file too large for Telegram bots to download ({attachment.size / 2**20:.1f} MB)"
        if attachment.size > MAX_DOWNLOAD:
            raise AttachmentUnavailable(too_large)
        try:
            file = await self.bot.get_file(attachment.url.removeprefix(FILE_URL_SCHEME))
            data = await file.download_as_bytearray()
        except BadRequest as exc:  # "file is too big", "invalid file_id": asking again will not help
            label = too_large if "too big" in exc.message else f"file not available from Telegram ({exc.message})"
            raise AttachmentUnavailable(label) from exc
        return bytes(data), attachment.media_type

    async def delivered(self, customer: ExternalRef, message_id: int) -> None:
        """Telegram shows its own sent/read ticks; there is nothing to tell the customer."""

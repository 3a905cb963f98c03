"""This module contains MediaSender: an agent's reply with files becomes ``sendPhoto`` / ``sendDocument`` calls.

The files are fetched through ``bridge.attachments.Fetchers`` (an agent's Slack upload is a
``slack-file:`` URL), then sent in order: images Telegram shows as photos (JPEG, PNG, WebP up to
10 MB) with ``sendPhoto``, everything else up to 50 MB with ``sendDocument``. The reply's text is the
caption of the first file when it fits Telegram's 1,024 characters, otherwise it goes first as its
own message(s). A file that cannot be fetched, or is too large for a bot to upload, is named in the
text instead: "(a file could not be sent: name)".
"""

from __future__ import annotations

import html
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from telegram.error import BadRequest
from telegram.ext import ExtBot

from bridge.attachments import AttachmentUnavailable, Fetchers
from bridge.events import Delivered, OutboundText, Undeliverable
from channels.telegram.translate import message_texts

log = logging.getLogger("switchboard.telegram")

MAX_UPLOAD = 50 * 1024 * 1024
"""Bots upload files up to 50 MB."""
MAX_PHOTO = 10 * 1024 * 1024
"""``sendPhoto`` takes photos up to 10 MB; a larger image goes as a document."""
CAPTION_LIMIT = 1024
"""Caption length, counted like message text after entity parsing."""
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
"""Images Telegram can show as a photo (a GIF would lose its animation, an SVG is refused)."""
NOT_SENT = "(a file could not be sent: {name})"
_PROGRESS_KEPT = 1024
_TAG = re.compile(r"<[^>]+>")

Pace = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Part:
    """One Bot API call of a delivery: a text message, or a file with an optional HTML caption."""

    method: Literal["message", "photo", "document"]
    text: str | None = None
    data: bytes = b""
    name: str = ""


class MediaSender:
    """Sends an ``OutboundText`` that carries attachments, resuming a retried delivery where it stopped.

    A delivery is several calls; when one of them fails (a 429, a network error) the outbox retries
    the whole delivery. The number of calls already made is remembered per ``delivery_id`` so the
    retry does not send them again. Residual risk: that memory is in-process, so after a restart
    between a partial send and its retry the customer gets the parts already sent a second time; and
    if a file's availability changes between attempts (Slack was down, then answers) the plan of
    calls changes and a part may be skipped or repeated.
    """

    def __init__(self, fetchers: Fetchers) -> None:
        self._fetchers = fetchers
        self._progress: OrderedDict[int, tuple[int, int]] = OrderedDict()  # delivery id -> (calls done, first id)

    async def send(self, bot: ExtBot[Any], out: OutboundText, pace: Pace) -> Delivered:
        parts = await self._plan(out)
        if not parts:
            raise Undeliverable("empty message")
        done, first = self._progress.get(out.delivery_id, (0, 0))
        chat_id = out.target.external_id
        for index in range(done, len(parts)):
            await pace(chat_id)
            message_id = await _call(bot, chat_id, parts[index])
            first = first or message_id
            self._remember(out.delivery_id, index + 1, first)
        self._progress.pop(out.delivery_id, None)
        return Delivered(remote_id=str(first))

    def _remember(self, delivery_id: int, done: int, first: int) -> None:
        self._progress[delivery_id] = (done, first)
        self._progress.move_to_end(delivery_id)
        while len(self._progress) > _PROGRESS_KEPT:
            self._progress.popitem(last=False)

    async def _plan(self, out: OutboundText) -> list[_Part]:
        """Fetch every file first (nothing is sent if that fails transiently), then order the calls."""
        files: list[_Part] = []
        missing: list[str] = []
        for attachment in out.attachments:
            try:
                if attachment.size > MAX_UPLOAD:
                    raise AttachmentUnavailable(f"too large for a bot to upload ({attachment.size / 2**20:.1f} MB)")
                data, media_type = await self._fetchers.fetch(attachment)
                if len(data) > MAX_UPLOAD:
                    raise AttachmentUnavailable(f"too large for a bot to upload ({len(data) / 2**20:.1f} MB)")
            except AttachmentUnavailable as exc:
                log.warning("telegram: delivery %s: %s not sent: %s", out.delivery_id, attachment.name, exc.label)
                missing.append(NOT_SENT.format(name=attachment.name))
                continue
            photo = media_type.lower() in PHOTO_TYPES and len(data) <= MAX_PHOTO
            files.append(_Part("photo" if photo else "document", data=data, name=attachment.name))
        text = "\n".join(part for part in (out.text, *missing) if part)
        texts = [t for t in message_texts(replace(out, text=text, attachments=())) if text and t.strip()]
        if files and len(texts) == 1 and len(html.unescape(_TAG.sub("", texts[0]))) <= CAPTION_LIMIT:
            return [replace(files[0], text=texts[0]), *files[1:]]
        return [_Part("message", text=t) for t in texts] + files


async def _call(bot: ExtBot[Any], chat_id: str, part: _Part) -> int:
    """Make one call; a photo Telegram refuses to process (dimensions, format) goes again as a document."""
    caption = {"caption": part.text, "parse_mode": "HTML"} if part.text else {}
    if part.method == "message":
        message = await bot.send_message(chat_id, part.text or "", parse_mode="HTML")
    elif part.method == "photo":
        try:
            message = await bot.send_photo(chat_id, part.data, filename=part.name, **caption)
        except BadRequest as exc:
            log.info("telegram: photo %s refused (%s); sending it as a document", part.name, exc.message)
            message = await bot.send_document(chat_id, part.data, filename=part.name, **caption)
    else:
        message = await bot.send_document(chat_id, part.data, filename=part.name, **caption)
    return message.message_id

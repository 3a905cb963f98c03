"""This module contains the pure translations between Telegram Bot API payloads and the bridge's records."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping
from typing import Any

from bridge.events import (
    Attachment,
    AuthorKind,
    ChannelKind,
    CustomerBlocked,
    CustomerEdit,
    CustomerMessage,
    ExternalRef,
    Inbound,
    OutboundText,
    Profile,
)

log = logging.getLogger("switchboard.telegram")

TEXT_LIMIT = 4096
"""Bot API limit for one message, counted after entity parsing (so on the plain text)."""
FILE_URL_SCHEME = "telegram-file:"
"""Attachments point at ``telegram-file:<file_id>``: Bot API download links embed the bot token."""
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
MAX_DOWNLOAD = 20 * 1024 * 1024
"""Bots can download files up to 20 MB (``getFile`` answers "file is too big" above it)."""
_OTHER_FILES = {  # content key -> (default file name, default media type)
    "audio": ("audio.mp3", "audio/mpeg"),
    "video": ("video.mp4", "video/mp4"),
    "video_note": ("video_note.mp4", "video/mp4"),
    "animation": ("animation.mp4", "video/mp4"),
}
_UNSUPPORTED = ("location", "venue", "contact", "poll", "dice", "game", "story", "invoice", "paid_media")

Payload = Mapping[str, Any]


class MalformedUpdate(ValueError):
    """An update of a shape Telegram does not send: a photo without ``file_id``, a ``from`` that is a list ..."""


def to_inbound(update: Payload) -> Inbound | None:
    """One Update -> ``CustomerMessage`` / ``CustomerEdit`` / ``CustomerBlocked``, or None when ignored.

    Raises:
        MalformedUpdate: a field the translation reads has a shape Telegram does not send.
    """
    for kind, translate in _TRANSLATORS.items():
        body = update.get(kind)
        if isinstance(body, Mapping):
            try:
                return translate(body) if _is_private(body, kind) else None
            except (LookupError, TypeError, ValueError, AttributeError) as exc:
                raise MalformedUpdate(f"{kind}: {exc!r}"[:200]) from exc
    log.debug("telegram: update %s has no type the bridge handles", update.get("update_id"))
    return None


def callback_query(update: Payload) -> tuple[str, str] | None:
    """A pressed inline button: (callback query id, its data); the client spins until it is answered."""
    query = update.get("callback_query")
    if not isinstance(query, Mapping) or "id" not in query:
        return None
    return str(query["id"]), str(query.get("data") or "")


def _is_private(body: Payload, kind: str) -> bool:
    chat = body.get("chat")
    if not isinstance(chat, Mapping) or "id" not in chat:
        log.info("telegram: ignoring a malformed %s without a chat", kind)
        return False
    if chat.get("type") != "private":
        log.info("telegram: ignoring a %s from %s chat %s (only private chats)", kind, chat.get("type"), chat["id"])
        return False
    return True


def _customer_message(message: Payload) -> CustomerMessage | None:
    if "message_id" not in message:
        return None
    text, attachments = _content(message)
    if not text and not attachments:
        log.info("telegram: ignoring message %s with no supported content", _source_id(message))
        return None
    return CustomerMessage(
        source=_source(message),
        source_id=_source_id(message),
        text=text,
        attachments=attachments,
        profile=_profile(message.get("from") or {}),
    )


def _customer_edit(message: Payload) -> CustomerEdit | None:
    text = str(message.get("text") or message.get("caption") or "")
    if "message_id" not in message or not text:
        return None
    return CustomerEdit(source=_source(message), target_source_id=_source_id(message), text=text)


def _customer_blocked(member: Payload) -> CustomerBlocked | None:
    status = (member.get("new_chat_member") or {}).get("status")
    if status not in ("kicked", "member"):
        return None
    return CustomerBlocked(source=_source(member), blocked=status == "kicked")


_TRANSLATORS: dict[str, Callable[[Payload], Inbound | None]] = {
    "message": _customer_message,
    "edited_message": _customer_edit,
    "my_chat_member": _customer_blocked,
    "channel_post": lambda body: None,
    "edited_channel_post": lambda body: None,
}


def _source(message: Payload) -> ExternalRef:
    return ExternalRef(channel=ChannelKind.TELEGRAM, external_id=str(message["chat"]["id"]))


def _source_id(message: Payload) -> str:
    return f"{message['chat']['id']}:{message.get('message_id')}"


def _profile(user: Payload) -> Profile:
    name = " ".join(str(part) for part in (user.get("first_name"), user.get("last_name")) if part)
    attributes = {"telegram_username": str(user["username"])} if user.get("username") else {}
    return Profile(display_name=name or None, locale=user.get("language_code") or None, attributes=attributes)


def _content(message: Payload) -> tuple[str, tuple[Attachment, ...]]:
    text = str(message.get("text") or message.get("caption") or "")
    attachments: list[Attachment] = []
    photos = message.get("photo")
    if isinstance(photos, list) and photos:
        largest = max(photos, key=lambda size: (size.get("width", 0) * size.get("height", 0), size.get("file_size", 0)))
        attachments.append(_attachment(largest, f"photo_{largest.get('file_unique_id', 'file')}.jpg", "image/jpeg"))
    document = message.get("document")
    if isinstance(document, Mapping):
        name = str(document.get("file_name") or "document")
        attachments.append(_attachment(document, name, document.get("mime_type") or "application/octet-stream"))
    voice = message.get("voice")
    if isinstance(voice, Mapping):
        attachments.append(_attachment(voice, "voice.ogg", voice.get("mime_type") or "audio/ogg"))
    for key, (name, media_type) in _OTHER_FILES.items():
        if isinstance(file := message.get(key), Mapping) and "file_id" in file:
            attachments.append(
                _attachment(file, str(file.get("file_name") or name), file.get("mime_type") or media_type)
            )
    sticker = message.get("sticker")
    if isinstance(sticker, Mapping) and not text:
        text = f"[sticker {sticker['emoji']}]" if sticker.get("emoji") else "[sticker]"
    if not text and not attachments and (kind := next((k for k in _UNSUPPORTED if k in message), None)):
        text = f"[unsupported Telegram message: {kind.replace('_', ' ')}]"
    return text, tuple(attachments)


def _attachment(file: Payload, name: str, media_type: str) -> Attachment:
    return Attachment(
        name=name,
        media_type=str(media_type),
        size=int(file.get("file_size") or 0),
        url=f"{FILE_URL_SCHEME}{file['file_id']}",
    )


# --- outbound ------------------------------------------------------------------------------------


def message_texts(out: OutboundText) -> list[str]:
    """The HTML ``sendMessage`` texts for one outbound message: split on the plain text, then escaped.

    An agent's name leads the first part in bold; attachments (not re-uploaded) are listed by name.
    """
    header = f"{out.author_name}:\n" if out.author is AuthorKind.AGENT and out.author_name else ""
    files = "".join(f"\n📎 {a.name}" for a in out.attachments)
    parts = split_text(header + out.text + files)
    if header:
        parts[0] = parts[0].removeprefix(header)
    escaped = [html.escape(part, quote=False) for part in parts]
    if header:
        escaped[0] = f"<b>{html.escape(header.rstrip(), quote=False)}</b>\n{escaped[0]}"
    return escaped


def edit_text(text: str) -> str:
    """HTML text for ``editMessageText``: a single message, so cut on a word and marked with an ellipsis."""
    first = split_text(text, TEXT_LIMIT - 2)[0]
    return html.escape(first if first == text else f"{first} …", quote=False)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split into parts of at most ``limit`` characters, at a line break or space when there is one."""
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = max(window.rfind("\n", limit // 2), window.rfind(" ", limit // 2))
        cut = limit if cut <= 0 else cut
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip(" \n")
    if text or not parts:
        parts.append(text)
    return parts

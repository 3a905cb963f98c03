"""This module contains the widget's wire frames (docs/widget-protocol.md) and their validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from bridge.choices import is_press

MAX_FRAME_BYTES = 64 * 1024
MAX_TEXT_CHARS = 10_000
MAX_MESSAGE_ID = 2**31 - 1  # message ids are INTEGER columns: PostgreSQL refuses a larger number in a query
MAX_ATTACHMENTS = 15  # upload ids in one message (reliability target G26)
_SHORT = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    kind: Literal["hello"] = "hello"
    session: str | None
    last_seen: int
    name: str | None = None
    email: str | None = None
    locale: str | None = None
    languages: tuple[str, ...] = ()
    page_url: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    ack_batches: bool = False  # the client understands ``acks`` frames (several acks in one frame)


@dataclass(frozen=True, slots=True, kw_only=True)
class Say:
    kind: Literal["message"] = "message"
    client_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SayWithFiles:
    """A message with files: ``uploads`` are ids ``POST /widget/upload`` gave (channels/web/uploads.py); ``text``
    may be empty. Its own type, so a message without files is matched and handled as before."""

    kind: Literal["message"] = "message"
    client_id: str
    text: str
    uploads: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    kind: Literal["ping"] = "ping"


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptRequest:
    """The visitor asks for a transcript: their latest conversation, or ``conversation`` if it is theirs."""

    kind: Literal["transcript"] = "transcript"
    conversation: int | None = None
    time_zone: str | None = None  # IANA name for the lines' times (the browser's), else the bridge's default


@dataclass(frozen=True, slots=True, kw_only=True)
class Choose:
    """The visitor pressed the choice ``choice`` under our message ``message_id``."""

    kind: Literal["choose"] = "choose"
    message_id: int
    choice: str


Frame = Hello | Say | SayWithFiles | Ping | TranscriptRequest | Choose


class ProtocolError(Exception):
    """A refused frame: ``code`` for programs, ``reason`` for people; a refused message's ``client_id``, when it
    had a valid one, tells the client which of its messages it was."""

    def __init__(self, code: str, reason: str, client_id: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.client_id = client_id


def parse_frame(raw: str) -> Frame:
    """Parse and validate one text frame.

    Raises:
        ProtocolError: ``bad_json``, ``bad_frame``, ``unknown_type`` or ``too_long``.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError("bad_json", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "frame must be a JSON object")
    kind = data.get("type")
    if kind == "message":
        return _say(data)
    if kind == "hello":
        return _hello(data)
    if kind == "ping":
        return Ping()
    if kind == "transcript":
        return _transcript(data)
    if kind == "choose":
        return _choose(data)
    shown = type(kind).__name__ if isinstance(kind, dict | list) else str(kind)  # str(): RecursionError when deep
    raise ProtocolError(
        "unknown_type", f"unknown frame type {shown[:40]!r}; expected hello, message, ping, transcript or choose"
    )


def _choose(data: dict[str, Any]) -> Choose:
    message_id, choice = data.get("message_id"), data.get("choice")
    if not isinstance(message_id, int) or not isinstance(choice, str) or not is_press(message_id, choice):
        raise ProtocolError("bad_choice", "choose needs a message_id (a message number) and the choice's id")
    return Choose(message_id=message_id, choice=choice)


def _say(data: dict[str, Any]) -> Say | SayWithFiles:
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64 or not client_id.isprintable():
        raise ProtocolError("bad_frame", "message needs a client_id of 1-64 printable characters")
    try:
        return _message(client_id, data)
    except ProtocolError as exc:
        exc.client_id = client_id
        raise


def _message(client_id: str, data: dict[str, Any]) -> Say | SayWithFiles:
    text, uploads = data.get("text"), data.get("attachments")  # the one lookup a message without files pays for them
    if uploads is not None:
        return _say_with_files(client_id, text, uploads)
    if not isinstance(text, str) or not text or text.isspace():
        raise ProtocolError("bad_frame", "message needs a non-empty text")
    if "\x00" in text:  # PostgreSQL cannot store it, and the failed insert fails the whole group commit
        raise ProtocolError("bad_frame", "message text must not contain NUL characters")
    if len(text) > MAX_TEXT_CHARS:
        raise ProtocolError("too_long", f"message text is limited to {MAX_TEXT_CHARS} characters")
    return Say(client_id=client_id, text=text)


def _say_with_files(client_id: str, text: object, uploads: object) -> Say | SayWithFiles:
    """A message frame with ``attachments``: up to ``MAX_ATTACHMENTS`` distinct upload ids, and a text that may be
    empty; whether the ids are the visitor's own uploads is the session's to check."""
    if not isinstance(uploads, list) or not all(isinstance(upload, str) for upload in uploads):
        raise ProtocolError("bad_frame", "message.attachments must be a list of upload ids (strings)")
    if len(uploads) > MAX_ATTACHMENTS:
        raise ProtocolError("bad_frame", f"a message carries at most {MAX_ATTACHMENTS} attachments")
    if len(set(uploads)) < len(uploads):
        raise ProtocolError("bad_frame", "message.attachments names the same upload twice")
    if not isinstance(text, str):
        raise ProtocolError("bad_frame", "message needs a text (it may be empty when files are attached)")
    say = {"client_id": client_id, "text": text}
    if not uploads:  # "attachments": [] is a message without files
        return _say(say)
    if text and not text.isspace():
        text = _say(say).text  # the text's own checks (NUL, length)
    return SayWithFiles(client_id=client_id, text="" if text.isspace() else text, uploads=tuple(uploads))


def _transcript(data: dict[str, Any]) -> TranscriptRequest:
    conversation, time_zone = data.get("conversation"), data.get("time_zone")
    if conversation is not None and (
        isinstance(conversation, bool) or not isinstance(conversation, int) or not 1 <= conversation < 2**31
    ):
        raise ProtocolError("bad_frame", "transcript.conversation must be null or a conversation number")
    if time_zone is not None and (not isinstance(time_zone, str) or not 1 <= len(time_zone) <= 64):
        raise ProtocolError("bad_frame", "transcript.time_zone must be null or an IANA time zone name")
    return TranscriptRequest(conversation=conversation, time_zone=time_zone)


def _hello(data: dict[str, Any]) -> Hello:
    session, last_seen = data.get("session"), data.get("last_seen", 0)
    if session is not None and (not isinstance(session, str) or not 20 <= len(session) <= 100):
        raise ProtocolError("bad_frame", "hello.session must be null or a session token")
    if isinstance(last_seen, bool) or not isinstance(last_seen, int) or not 0 <= last_seen <= MAX_MESSAGE_ID:
        raise ProtocolError("bad_frame", "hello.last_seen must be 0 or a message id")
    languages = data.get("languages") or []
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise ProtocolError("bad_frame", "hello.languages must be a list of language tags")
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict) or len(attributes) > 30:
        raise ProtocolError("bad_frame", "hello.attributes must be an object of at most 30 entries")
    ack_batches = data.get("ack_batches", False)
    if not isinstance(ack_batches, bool):
        raise ProtocolError("bad_frame", "hello.ack_batches must be true or false")
    return Hello(
        session=session,
        last_seen=last_seen,
        ack_batches=ack_batches,
        name=_optional(data, "name"),
        email=_optional(data, "email"),
        locale=_optional(data, "locale"),
        languages=tuple(_no_nul(x)[:35] for x in languages[:10]),
        page_url=_optional(data, "page_url", limit=2000),
        attributes={_no_nul(k)[:60]: _no_nul(_attribute(v))[:_SHORT] for k, v in attributes.items()},
    )


def _attribute(value: object) -> str:
    """An attribute's value as text; a nested one as its JSON (``str`` of 1,000 nested lists raises RecursionError)."""
    if isinstance(value, dict | list):
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:  # nested deeper than orjson writes (255 levels)
            raise ProtocolError("bad_frame", "hello.attributes values must not nest that deep") from None
    return str(value)


def _no_nul(text: str) -> str:
    """Without NUL characters: PostgreSQL cannot store them (the profile is stored with the contact)."""
    return text.replace("\x00", "")


def _optional(data: dict[str, Any], key: str, limit: int = _SHORT) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProtocolError("bad_frame", f"hello.{key} must be a string")
    return _no_nul(value).strip()[:limit] or None


def encode(frame: Mapping[str, Any]) -> str:
    return orjson.dumps(frame).decode()


def error_frame(code: str, reason: str, client_id: str | None = None) -> str:
    """An error frame; a refused message's names its ``client_id``."""
    if client_id is None:
        return encode({"type": "error", "code": code, "reason": reason})
    return encode({"type": "error", "code": code, "reason": reason, "client_id": client_id})

"""Atheris target: the widget's frame schema, ``channels.web.protocol.parse_frame``.

Any text frame (valid UTF-8: aiohttp closes the socket with 1007 before the bridge sees anything else) parses to
one of the documented frames, or raises ``ProtocolError`` with one of its documented codes; nothing else escapes.
A parsed frame keeps the limits the rest of the bridge relies on: no NUL where PostgreSQL would store it, texts
within their lengths, ids within INTEGER.
"""

from __future__ import annotations

from channels.web.protocol import (
    MAX_ATTACHMENTS,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_ID,
    MAX_TEXT_CHARS,
    Choose,
    Hello,
    Ping,
    ProtocolError,
    Say,
    SayWithFiles,
    TranscriptRequest,
    parse_frame,
)
from fuzz.support import check

MAX_LEN = 16384
CODES = frozenset({"bad_json", "bad_frame", "unknown_type", "too_long", "bad_choice"})


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_FRAME_BYTES:
        return  # closed with 1009 before parsing
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # closed with 1007 before parsing
    try:
        frame = parse_frame(raw)
    except ProtocolError as refused:
        check(refused.code in CODES, f"undocumented error code {refused.code!r}")
        # The reason quotes at most 40 characters of the frame (repr: up to 10 each): it never echoes the frame back.
        check(isinstance(refused.reason, str) and 0 < len(refused.reason) <= 500, f"reason {refused.reason!r}")
        return
    match frame:
        case Say():
            check(1 <= len(frame.client_id) <= 64 and frame.client_id.isprintable(), f"client_id {frame.client_id!r}")
            check(0 < len(frame.text) <= MAX_TEXT_CHARS and not frame.text.isspace(), "message text out of bounds")
            check("\x00" not in frame.text, "NUL in a message text")
        case SayWithFiles():
            check(1 <= len(frame.client_id) <= 64 and frame.client_id.isprintable(), f"client_id {frame.client_id!r}")
            check(len(frame.text) <= MAX_TEXT_CHARS and "\x00" not in frame.text, "message text out of bounds")
            check(1 <= len(frame.uploads) <= MAX_ATTACHMENTS, f"{len(frame.uploads)} attachments")
            check(len(set(frame.uploads)) == len(frame.uploads), "an upload attached twice")
        case Hello():
            check(0 <= frame.last_seen <= MAX_MESSAGE_ID, f"last_seen {frame.last_seen}")
            texts = [frame.name, frame.email, frame.locale, frame.page_url, *frame.languages]
            texts += [*frame.attributes.keys(), *frame.attributes.values()]
            check(all(isinstance(t, str | None) and "\x00" not in (t or "") for t in texts), "NUL in a hello field")
            check(len(frame.attributes) <= 30 and len(frame.languages) <= 10, "too many attributes or languages")
        case TranscriptRequest():
            check(frame.conversation is None or 1 <= frame.conversation < 2**31, f"conversation {frame.conversation}")
        case Choose():
            check(1 <= frame.message_id <= MAX_MESSAGE_ID, f"choose message_id {frame.message_id}")
        case Ping():
            pass
        case _:
            check(False, f"parse_frame returned {type(frame).__name__}")

"""Atheris target: the Telegram HTML converters in ``channels.telegram.translate``.

``message_texts`` (an agent's message to ``sendMessage`` texts with ``parse_mode=HTML``), ``edit_text`` and
``split_text`` never raise, and what they make is what the Bot API takes: every text parses as Telegram's HTML
(checked with the emulator's parser, which raises like the Bot API's "can't parse entities") and is at most 4,096
characters once parsed; the agent's name stays bold in the first part only; a split drops only whitespace.

Input layout: the first line is the agent's name (Slack allows 80 characters), the rest the message.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.events import Attachment, AuthorKind, ChannelKind, ExternalRef, OutboundText
from bridge.sandbox.telegram_markup import plain_text
from channels.telegram.translate import TEXT_LIMIT, edit_text, message_texts, split_text
from fuzz.support import check, check_linear

MAX_LEN = 16384
LONGEST = 5_000  # a long agent message: two parts
_CHAT = ExternalRef(channel=ChannelKind.TELEGRAM, external_id="4242")


def _visible(text: str) -> str:
    return "".join(char for char in text if not char.isspace())


def _outbound(name: str, text: str, files: tuple[Attachment, ...]) -> OutboundText:
    return OutboundText(
        delivery_id=1,
        message_id=1,
        conversation_id=1,
        target=_CHAT,
        author=AuthorKind.AGENT if name else AuthorKind.BOT,
        author_name=name or None,
        text=text,
        attachments=files,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _check_sendable(html_text: str, what: str) -> str:
    shown = plain_text(html_text, "HTML")  # raises EntityParseError where the Bot API answers 400
    check(len(shown) <= TEXT_LIMIT, f"{what} is {len(shown)} characters once parsed")
    return shown


def test_one_input(data: bytes) -> None:
    first, _, rest = data.decode("utf-8", "replace").partition("\n")
    name, text = first[:80], rest
    files = (Attachment(name=name, media_type="text/plain", size=1, url="x:1"),) if len(data) % 3 == 0 else ()
    for body in (text, (text * (LONGEST // max(len(text), 1) + 1))[:LONGEST]):
        parts = message_texts(_outbound(name, body, files))
        check(bool(parts), "message_texts made no text")
        for index, part in enumerate(parts):
            _check_sendable(part, f"part {index + 1} of {len(parts)}")
            check(part.startswith("<b>") == (index == 0 and bool(name)), f"bold name in part {index + 1}")
        _check_sendable(edit_text(body), "edit_text")
    for limit in (1 + len(data) % 7, 8 + len(data) % 61, TEXT_LIMIT):
        parts = split_text(text, limit)
        check(all(len(part) <= limit for part in parts), f"split_text(limit={limit}) made a part over the limit")
        check(_visible("".join(parts)) == _visible(text), f"split_text(limit={limit}) dropped more than whitespace")
    check_linear("message_texts", lambda t: message_texts(_outbound(name, t, files)), text)

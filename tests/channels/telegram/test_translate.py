"""Translation tests: recorded Telegram updates -> bridge records, and outbound text splitting/escaping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

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
from bridge.sandbox.telegram_markup import plain_text
from channels.telegram.translate import (
    TEXT_LIMIT,
    callback_query,
    edit_text,
    message_texts,
    split_text,
    to_inbound,
)

PAYLOADS = Path(__file__).with_name("payloads")
ANA = ExternalRef(channel=ChannelKind.TELEGRAM, external_id="5551234")
ANA_PROFILE = Profile(display_name="Ana Souza", locale="pt-br", attributes={"telegram_username": "anasouza"})


def _message(source_id: str, text: str, *attachments: Attachment) -> CustomerMessage:
    return CustomerMessage(source=ANA, source_id=source_id, text=text, attachments=attachments, profile=ANA_PROFILE)


def _file(name: str, media_type: str, size: int, file_id: str) -> Attachment:
    return Attachment(name=name, media_type=media_type, size=size, url=f"telegram-file:{file_id}")


EXPECTED: dict[str, Inbound | None] = {
    "message_text": _message("5551234:17", "Olá! Meu pedido #1234 não chegou <b>ainda</b>"),
    "message_photo": _message(
        "5551234:18", "o recibo", _file("photo_AQADl.jpg", "image/jpeg", 81920, "AgACAgQAAxkBAAMSZ0Flarge")
    ),
    "message_document": _message(
        "5551234:19", "", _file("fatura março.pdf", "application/pdf", 48213, "BQACAgQAAxkBAAMTZ0Fdoc")
    ),
    "message_voice": _message("5551234:20", "", _file("voice.ogg", "audio/ogg", 9120, "AwACAgQAAxkBAAMUZ0Fvoice")),
    "message_sticker": _message("5551234:21", "[sticker 👍]"),
    "edited_message": CustomerEdit(source=ANA, target_source_id="5551234:17", text="Olá! Meu pedido #1235 não chegou"),
    "my_chat_member_kicked": CustomerBlocked(source=ANA, blocked=True),
    "group_message": None,
    "channel_post": None,
    "callback_query": None,
    "message_reaction": None,
    "malformed_message": None,
    "message_service": _message("5551234:22", "[unsupported Telegram message: location]"),
}


def load(name: str) -> dict[str, Any]:
    return orjson.loads((PAYLOADS / f"{name}.json").read_bytes())  # type: ignore[no-any-return]


def test_every_payload_has_an_expectation() -> None:
    assert sorted(p.stem for p in PAYLOADS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_to_inbound(name: str) -> None:
    assert to_inbound(load(name)) == EXPECTED[name]


def test_group_chats_are_ignored_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="switchboard.telegram")
    assert to_inbound(load("group_message")) is None
    assert "supergroup chat -1001987654321" in caplog.text


def test_unblock_and_callback_query() -> None:
    unblocked = load("my_chat_member_kicked")
    unblocked["my_chat_member"]["new_chat_member"] = {
        "user": {"id": 1, "is_bot": True, "first_name": "B"},
        "status": "member",
    }
    assert to_inbound(unblocked) == CustomerBlocked(source=ANA, blocked=False)
    assert callback_query(load("callback_query")) == ("4382bfdwdsb323b2d9", "csat:42:5")
    assert callback_query(load("message_text")) is None


def _outbound(text: str, *, author: AuthorKind = AuthorKind.AGENT, name: str | None = "Rina") -> OutboundText:
    return OutboundText(
        delivery_id=1,
        message_id=1,
        conversation_id=1,
        target=ANA,
        author=author,
        author_name=name,
        text=text,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_agent_name_is_bold_and_text_is_escaped() -> None:
    [text] = message_texts(_outbound("1 < 2 & <b>not bold</b>"))
    assert text == "<b>Rina:</b>\n1 &lt; 2 &amp; &lt;b&gt;not bold&lt;/b&gt;"
    assert plain_text(text, "HTML") == "Rina:\n1 < 2 & <b>not bold</b>"


def test_bot_messages_have_no_header_and_attachments_are_listed() -> None:
    out = replace(
        _outbound("Hi", author=AuthorKind.BOT, name="Switchboard"), attachments=(_file("a.pdf", "x", 1, "f"),)
    )
    assert message_texts(out) == ["Hi\n📎 a.pdf"]


def test_long_text_splits_on_words_within_the_limit_after_parsing() -> None:
    words = " ".join(f"w{n:04d}&<" for n in range(1500))  # ~10,500 characters, escaping grows it further
    parts = message_texts(_outbound(words))
    plain = [plain_text(part, "HTML") for part in parts]
    assert len(parts) == 3
    assert all(len(p) <= TEXT_LIMIT for p in plain)
    assert " ".join(plain).removeprefix("Rina:\n") == words
    assert all(p.split()[-1].startswith("w") and p.split()[-1].endswith("&<") for p in plain)


@pytest.mark.parametrize(
    ("text", "limit", "parts"),
    [
        ("short", 10, ["short"]),
        ("aaaa bbbb cccc", 9, ["aaaa bbbb", "cccc"]),
        ("line one\nline two", 12, ["line one", "line two"]),
        ("x" * 12, 5, ["xxxxx", "xxxxx", "xx"]),
        ("", 5, [""]),
    ],
)
def test_split_text(text: str, limit: int, parts: list[str]) -> None:
    assert split_text(text, limit) == parts


def test_edit_text_is_cut_to_one_message() -> None:
    edited = edit_text("word " * 1000)
    assert len(plain_text(edited, "HTML")) <= TEXT_LIMIT
    assert edited.endswith(" …")
    assert edit_text("a<b") == "a&lt;b"

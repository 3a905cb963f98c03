"""Atheris target: the Slack text converters in ``channels.slack.translate``.

``from_mrkdwn`` (an agent's Slack text to plain text), ``escape_mrkdwn`` (a customer's text to Slack text),
``split_text`` and ``message_posts`` never raise, and keep their promises: escaped text has no raw ``<`` or ``>``
(so it cannot mention ``<!channel>`` or hide a link) and reads back as typed; the parts of a split join back to the
input, each within its limit, none empty; each post of a customer's message (up to the widget's 10,000 characters)
stays within Slack's 40,000 characters once escaped.

The input is text as typed (invalid UTF-8 becomes lone surrogates, which bolt's ``json.loads`` lets through).
"""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.events import AuthorKind, ChannelKind, ExternalRef, OutboundText
from channels.slack.translate import SLACK_TEXT_LIMIT, escape_mrkdwn, from_mrkdwn, message_posts, split_text
from channels.web.protocol import MAX_TEXT_CHARS
from fuzz.support import check, check_linear

MAX_LEN = 16384
SLACK_MAX_TEXT = 40_000  # chat.postMessage refuses (msg_too_long) or truncates a longer text
_THREAD = ExternalRef(channel=ChannelKind.SLACK, external_id="1763900100.000100")


def _post_texts(text: str) -> list[str]:
    out = OutboundText(
        delivery_id=1,
        message_id=1,
        conversation_id=1,
        target=_THREAD,
        author=AuthorKind.CUSTOMER,
        author_name="Ivy",
        text=text,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return [post["text"] for post in message_posts(out, channel="C0SUPPORT")]


def _check_split(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    check("".join(parts) == text, f"split_text(limit={limit}) lost or changed text")
    check(all(len(part) <= limit for part in parts), f"split_text(limit={limit}) made a part over the limit")
    check(len(parts) == 1 or all(parts), f"split_text(limit={limit}) made an empty part")


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    check(isinstance(from_mrkdwn(text), str), "from_mrkdwn returned no text")
    escaped = escape_mrkdwn(text)
    check("<" not in escaped and ">" not in escaped, "escape_mrkdwn left a raw < or >")
    check(from_mrkdwn(escaped) == text, "from_mrkdwn(escape_mrkdwn(text)) is not the text")
    for limit in (1 + len(data) % 7, 8 + len(data) % 61, SLACK_TEXT_LIMIT):
        _check_split(text, limit)
    if text:  # the same text, as long as a widget message may be
        longest = (text * (MAX_TEXT_CHARS // len(text) + 1))[:MAX_TEXT_CHARS]
        sizes = [len(post) for post in _post_texts(longest)]
        check(max(sizes) <= SLACK_MAX_TEXT, f"a {len(longest)}-character message made a post of {max(sizes)}")
        check_linear("from_mrkdwn", from_mrkdwn, text)

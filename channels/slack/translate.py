"""This module contains the pure translations between Slack payloads and the bridge's records."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from bridge.events import AgentReply, ChannelKind, ConversationCard, ExternalRef, OutboundText
from channels.slack.files import shared_files

NOTE_PREFIX = "//"
SLACK_TEXT_LIMIT = 39_000  # Slack truncates past 40,000 characters; split below it
PAGE_LABEL_CHARS = 60  # a page link shows this much of its URL (the host always whole)
_ACCEPTED_SUBTYPES = (None, "file_share", "thread_broadcast")
_PLAIN_ID = re.compile(r"[!-~]{1,64}")  # Slack's user ids: short, printable ASCII
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")  # a message timestamp ("1763900100.000100")
# Slack escapes "<" in text, so none is inside a link or mention: stopping at one keeps a scan linear (with [^>]*,
# 40,000 characters of "<@U1|" and no ">" took 2 s, each "<" scanning to the end).
_LINK = re.compile(r"<((?:https?|mailto):[^|<>]+)(?:\|([^<>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^<>]*)?>")
_MENTION = re.compile(r"<[@#!]([A-Za-z0-9^]+)(?:\|([^<>]*))?>")
CHANNEL_LABELS = {ChannelKind.WEB: "Website chat", ChannelKind.TELEGRAM: "Telegram", ChannelKind.SLACK: "Slack"}


def to_agent_reply(event: Mapping[str, Any], *, support_channel: str, agent_name: str | None) -> AgentReply | None:
    """A human's reply in a conversation thread of the support channel, or None for anything else."""
    thread_ts, ts, user = event.get("thread_ts"), event.get("ts"), event.get("user")
    if not (_is_ts(thread_ts) and _is_ts(ts) and is_plain_id(user)):  # anything else in a signed event is not Slack's
        return None
    if event.get("channel") != support_channel or thread_ts == ts:
        return None
    if event.get("bot_id") or event.get("subtype") not in _ACCEPTED_SUBTYPES:
        return None
    raw = _storable(event.get("text") or "")
    is_note = raw.lstrip().startswith(NOTE_PREFIX)
    text = from_mrkdwn(raw.lstrip()[len(NOTE_PREFIX) :].lstrip() if is_note else raw).strip()
    files = shared_files(event)
    if not text and not files:
        return None
    return AgentReply(
        thread_ref=thread_ts,
        agent=ExternalRef(channel=ChannelKind.SLACK, external_id=user),
        source_id=f"{support_channel}:{ts}",
        text=text,
        agent_name=agent_name,
        is_note=is_note,
        attachments=files,
    )


def is_plain_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` can be a Slack user id (anything else in a signed event is not Slack's)."""
    return isinstance(value, str) and _PLAIN_ID.fullmatch(value) is not None


def _is_ts(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _TS.fullmatch(value) is not None


def _storable(text: object) -> str:
    """Message text a database stores: text only, without NUL (PostgreSQL refuses it), lone surrogates as "?"."""
    if not isinstance(text, str):
        return ""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def from_mrkdwn(text: str) -> str:
    """Slack's wire text -> plain text for a customer: links spelled out, mentions and escapes undone."""
    text = _SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _MENTION.sub(lambda m: f"@{m.group(2) or m.group(1)}", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape_mrkdwn(text: str) -> str:
    """Customer text -> Slack text that cannot mention (<!channel>) or hide links (<url|label>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, limit: int = SLACK_TEXT_LIMIT) -> list[str]:
    """Split at whitespace into parts of at most ``limit`` characters; nothing is dropped."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit)
        cut = limit if cut < 0 else cut + 1
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts


def message_posts(out: OutboundText, *, channel: str) -> list[dict[str, Any]]:
    """The ``chat.postMessage`` arguments for one customer message in its thread (several if long)."""
    name = out.author_name or "Customer"
    files = "".join(f"\n:paperclip: {escape_mrkdwn(a.name)} ({a.media_type}, {a.size} bytes)" for a in out.attachments)
    return [
        {
            "channel": channel,
            "thread_ts": out.target.external_id,
            "text": escape_mrkdwn(part) + (files if index == 0 else ""),
            "username": name[:80],
            "unfurl_links": False,
            "unfurl_media": False,
        }
        for index, part in enumerate(_post_parts(out.text))
    ]


def _post_parts(text: str) -> list[str]:
    """``split_text``, with the limit holding once escaped: "&" is 5 characters there, so 10,000 of them made one
    50,000-character post (Slack: msg_too_long); a part that grows past the limit is split again, smaller."""
    parts: list[str] = []
    for part in split_text(text):
        fits = len(escape_mrkdwn(part)) <= SLACK_TEXT_LIMIT
        parts += [part] if fits else split_text(part, SLACK_TEXT_LIMIT // len("&amp;"))
    return parts


def card_post(card: ConversationCard, *, channel: str) -> dict[str, Any]:
    """The ``chat.postMessage`` arguments for a conversation's root card (Block Kit)."""
    name = escape_mrkdwn(card.customer_name)
    fields = [
        f"*Channel*\n{CHANNEL_LABELS.get(card.channel, str(card.channel))}",
        f"*Language*\n{escape_mrkdwn(card.locale)}",
        "*Status*\nOpen",
        f"*Page*\n{page_link(card.page_url)}",
    ]
    fields += [f"*{escape_mrkdwn(str(k))[:40]}*\n{escape_mrkdwn(str(v))[:200]}" for k, v in card.attributes.items()]
    first = escape_mrkdwn(card.first_message)
    preview = first if len(first) <= 2800 else first[:2800] + "…"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"💬 {card.customer_name}"[:150], "emoji": True}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields[:10]]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "> " + preview.replace("\n", "\n> ")}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Conversation #{card.conversation_id} · reply in this thread to answer · "
                    f"start with `{NOTE_PREFIX}` for an internal note",
                }
            ],
        },
    ]
    return {
        "channel": channel,
        "text": f"New conversation with {name}: {first[:200]}",
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def page_link(url: str | None, label: str | None = None) -> str:
    """A mrkdwn link to ``url`` showing ``label`` (default: ``host_label``); an em dash for no web URL."""
    if not url or not url.startswith(("http://", "https://")):
        return "—"
    shown = label or host_label(url)
    if shown is None:
        return "—"
    safe = escape_mrkdwn(url).replace("|", "%7C")
    return f"<{safe}|{escape_mrkdwn(shown)}>"


def host_label(url: str, width: int = PAGE_LABEL_CHARS) -> str | None:
    """The label of a visitor's page link: the host the link really opens, always whole, then as much of the path
    as fits in ``width``. The visitor sets the page URL, so a label cut at a fixed width could hide the host
    (``https://shop.example.com.aaaa…`` of ``shop.example.com.aaaa….evil.net``), and a ``user@`` part could pose as
    one (``https://shop.example@evil.net/``). None for a URL with no host."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    where = host if port is None else f"{host}:{port}"
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    if rest in ("", "/"):
        return where
    room = max(width - len(where), 2)
    return where + (rest if len(rest) <= room else rest[: room - 1] + "…")

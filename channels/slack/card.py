"""This module contains the thread card: a conversation's root message in Block Kit, with the agents' actions.

Pure functions of a ``CardState``; ``channels/slack/desk.py`` posts and updates the card (``chat.update``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel.dates import format_date

from bridge.after_hours import opening_label
from bridge.desk import TAGS, CardState, EarlierConversation
from bridge.model import ConversationStatus
from bridge.routing import PRIORITIES
from channels.slack.translate import CHANNEL_LABELS, NOTE_PREFIX, escape_mrkdwn, page_link

CLAIM, CLOSE, REOPEN = "desk_claim", "desk_close", "desk_reopen"
PRIORITY, TAG_SELECT, ASSIGN = "desk_priority", "desk_tags", "desk_assign"
ACTIONS = (CLAIM, CLOSE, REOPEN, PRIORITY, TAG_SELECT, ASSIGN)
ACTIONS_BLOCK = "desk_actions"
COMMENT_ON_CARD = 300  # characters of the survey comment shown with the rating
EXPORT = "desk_export"  # not in ACTIONS: channels/slack/transcripts.py answers it
_PRIORITY_LABELS = {"urgent": "🔴 Urgent", "high": "🟠 High", "normal": "Normal", "low": "Low"}


def card_message(state: CardState, links: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``text`` and ``blocks`` for ``chat.postMessage`` / ``chat.update`` of the conversation's root card;
    ``links`` maps the threads of earlier conversations (their ts) to their permalinks."""
    name = escape_mrkdwn(state.customer_name)
    first = escape_mrkdwn(state.first_message)
    return {"text": f"Conversation with {name}: {first[:200]}", "blocks": card_blocks(state, links or {})}


def card_blocks(state: CardState, links: Mapping[str, str]) -> list[dict[str, Any]]:
    resolved = state.status == ConversationStatus.RESOLVED
    fields = [
        f"*Status*\n{'✅ Resolved' if resolved else '🟢 Open'}",
        f"*Assignee*\n{f'<@{state.assignee}>' if state.assignee else 'Unassigned'}",
        f"*Priority*\n{_PRIORITY_LABELS.get(state.priority, escape_mrkdwn(state.priority))}",
        f"*Tags*\n{', '.join(state.tags) if state.tags else '—'}",
        f"*Channel*\n{CHANNEL_LABELS.get(state.channel, str(state.channel))}",
        f"*Language*\n{escape_mrkdwn(state.locale)}",
        f"*Email*\n{escape_mrkdwn(state.email) if state.email else '—'}",
        f"*Page*\n{page_link(state.page_url)}",
    ]
    if state.csat is not None:
        fields.append(f"*Rating*\n{'★' * state.csat}{'☆' * (5 - state.csat)} {state.csat}/5{_comment(state)}")
    attributes = [
        f"*{escape_mrkdwn(str(k))[:40]}*\n{escape_mrkdwn(str(v))[:200]}" for k, v in state.attributes.items()
    ][:10]
    preview = state.first_message and escape_mrkdwn(state.first_message)
    context = [
        f"Conversation #{state.conversation_id}",
        f"reply in this thread to answer · start with `{NOTE_PREFIX}` for an internal note",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"💬 {state.customer_name}"[:150], "emoji": True}}
    ]
    if state.for_the_morning is not None:
        morning = f"🌙 *For the morning*: arrived after hours · we open {opening_label(state.for_the_morning)}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": morning}]})
    blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields[:10]]})
    if attributes:
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in attributes]})
    if preview:
        quoted = preview if len(preview) <= 2800 else preview[:2800] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "> " + quoted.replace("\n", "\n> ")}})
    if state.earlier:
        earlier = ", ".join(_earlier(e, links) for e in state.earlier)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Earlier: {earlier}"}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    blocks.append({"type": "actions", "block_id": ACTIONS_BLOCK, "elements": _elements(state, resolved=resolved)})
    return blocks


def _earlier(conversation: EarlierConversation, links: Mapping[str, str]) -> str:
    """``<permalink|#12 · 3 Nov 2026 · resolved>``; the bare label while its thread has no link."""
    day = format_date(conversation.created_at, "d MMM y", locale="en")
    label = f"#{conversation.conversation_id} · {day} · {conversation.status}"
    link = links.get(conversation.thread_ts) if conversation.thread_ts else None
    return page_link(link, label) if link else label


def _elements(state: CardState, *, resolved: bool) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    if resolved:
        elements.append(button(REOPEN, "Reopen"))
    else:
        if state.assignee is None:
            elements.append(button(CLAIM, "Claim", style="primary"))
        elements.append(button(CLOSE, "Close"))
    elements.append(button(EXPORT, "Export"))
    priorities = [_option(p, _PRIORITY_LABELS[p]) for p in PRIORITIES]
    chosen = next((o for o in priorities if o["value"] == state.priority), None)
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": PRIORITY,
        "placeholder": {"type": "plain_text", "text": "Priority"},
        "options": priorities,
    }
    if chosen is not None:
        select["initial_option"] = chosen
    tags: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": TAG_SELECT,
        "placeholder": {"type": "plain_text", "text": "Tags"},
        "options": [_option(t, t.title()) for t in TAGS],
    }
    if state.tags:
        tags["initial_options"] = [_option(t, t.title()) for t in TAGS if t in state.tags]
    assign: dict[str, Any] = {
        "type": "users_select",
        "action_id": ASSIGN,
        "placeholder": {"type": "plain_text", "text": "Assign to…"},
    }
    if state.assignee:
        assign["initial_user"] = state.assignee
    return [*elements, select, tags, assign]


def _comment(state: CardState) -> str:
    """The survey comment after the rating (a field holds 2,000 characters, escapes included: long ones are cut)."""
    comment = state.csat_comment
    if not comment:
        return ""
    if len(comment) > COMMENT_ON_CARD:
        comment = comment[:COMMENT_ON_CARD] + "…"
    return f" — “{escape_mrkdwn(comment)}”"


def button(action_id: str, label: str, *, style: str | None = None) -> dict[str, Any]:
    """A Block Kit button whose value is its action id (``style``: "primary" or "danger")."""
    element: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": action_id,
    }
    if style:
        element["style"] = style
    return element


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": label, "emoji": True}, "value": value}

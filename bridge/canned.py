"""This module contains CannedService: an agent's canned answer, rendered in the customer's language and sent.

It knows conversations, catalogs and the engine, not Slack: the Slack adapter (``channels/slack/canned.py``)
parses what the agent did and shows the errors raised here.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import final

import sqlalchemy as sa
from babel import Locale, UnknownLocaleError

from bridge.engine import CONTACT, CONVERSATION, Engine
from bridge.events import AgentReply, ExternalRef, Receipt
from bridge.i18n import CannedText, Catalogs, UnknownCannedKey, placeholder_names
from bridge.store import Store

__all__ = [
    "KEYWORDS",
    "CannedRequest",
    "CannedService",
    "CannedSent",
    "ConversationInfo",
    "MissingParams",
    "NotAConversation",
    "UnknownCannedKey",
    "language_name",
    "parse_command",
]

CUSTOMER, AGENT = "customer", "agent"  # the placeholders every canned answer may use, filled by the bridge
KEYWORDS = ".keywords"
"""The key suffix of an FAQ answer's keyword list (``refund_policy.keywords``, see ``bridge.faq``): not an answer."""


class NotAConversation(LookupError):
    """The thread is not a customer conversation's thread."""


class MissingParams(ValueError):
    """The answer has placeholders nobody gave a value for (e.g. ``{order}`` without ``order=...``)."""

    def __init__(self, key: str, missing: list[str]) -> None:
        example = " ".join(f"{name}=…" for name in missing)
        super().__init__(f"{key} needs {', '.join(missing)}: add {example}")
        self.key = key
        self.missing = missing


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationInfo:
    """What rendering a canned answer needs to know about a conversation."""

    conversation_id: int
    locale: str
    customer_name: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CannedRequest:
    """An agent asked to send canned answer ``key`` in the conversation of thread ``thread_ref``.

    ``source_id`` identifies the agent's action (a Slack ``channel:ts``, a modal's view id): a redelivered
    request is sent once.
    """

    thread_ref: str
    key: str
    params: Mapping[str, str]
    agent: ExternalRef
    agent_name: str | None
    source_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CannedSent:
    """What was sent: the rendered answer, the note posted for the agents, and the engine's receipt."""

    canned: CannedText
    note: str
    receipt: Receipt


def parse_command(text: str) -> tuple[str, dict[str, str]]:
    """``"order_status order=A-42 note='two words'"`` -> ``("order_status", {"order": "A-42", ...})``.

    Words that are not ``name=value`` are ignored; ``("", {})`` when there is no key.
    """
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")  # Slack's smart quotes
    try:
        words = shlex.split(text)
    except ValueError:  # an unbalanced quote: take the words as they are
        words = text.split()
    if not words:
        return "", {}
    params = dict(word.split("=", 1) for word in words[1:] if "=" in word and not word.startswith("="))
    return words[0], {name.strip(): value.strip() for name, value in params.items()}


def language_name(locale: str) -> str:
    """The locale's name in English for agents ("Turkish", "Portuguese (Brazil)"); the code if Babel has none."""
    try:
        return str(Locale.parse(locale).get_display_name("en") or locale)
    except (UnknownLocaleError, ValueError):
        return locale


@final
class CannedService:
    """Renders canned answers for a conversation and stores them for delivery to the customer."""

    def __init__(self, *, store: Store, engine: Engine, catalogs: Catalogs) -> None:
        self._store = store
        self._engine = engine
        self.catalogs = catalogs

    def sources(self) -> dict[str, str]:
        """Every canned answer agents may send: key -> English source text, sorted by key (keyword lists left out:
        this is the one place that hides them from ``/canned``, the shortcut's menu and ``/announce``)."""
        return {key: text for key, text in self.catalogs.canned_sources().items() if not key.endswith(KEYWORDS)}

    def source(self, key: str) -> str:
        """The English source text of ``key``; raises ``UnknownCannedKey`` listing the close matches."""
        sources = self.sources()
        if key not in sources:
            try:
                self.catalogs.canned(self.catalogs.default_locale, key)  # raises, with the catalogs' close matches
            except UnknownCannedKey as unknown:
                raise UnknownCannedKey(key, [k for k in unknown.close_matches if k in sources]) from None
            raise UnknownCannedKey(key, [])
        return sources[key]

    async def conversation(self, thread_ref: str) -> ConversationInfo:
        """The conversation whose Slack thread is ``thread_ref``; raises ``NotAConversation``."""
        row = await self._store.fetch_one(
            sa.select(CONVERSATION.c.id, CONVERSATION.c.locale, CONTACT.c.display_name)
            .join(CONTACT, CONTACT.c.id == CONVERSATION.c.contact_id)
            .where(CONVERSATION.c.slack_thread_ts == thread_ref)
        )
        if row is None:
            raise NotAConversation(thread_ref)
        return ConversationInfo(conversation_id=int(row.id), locale=row.locale, customer_name=row.display_name)

    def render(self, info: ConversationInfo, key: str, params: Mapping[str, str], agent_name: str | None) -> CannedText:
        """The answer in the conversation's language; raises ``UnknownCannedKey`` or ``MissingParams``."""
        source = self.source(key)
        values = {CUSTOMER: info.customer_name, AGENT: agent_name, **params}
        missing = sorted(name for name in placeholder_names(source) if not values.get(name))
        if missing:
            raise MissingParams(key, missing)
        return self.catalogs.canned(info.locale, key, **values)

    async def send(self, request: CannedRequest) -> CannedSent:
        """Render, store for the customer, and post the agents' note in the thread.

        Raises:
            NotAConversation, UnknownCannedKey, MissingParams: nothing was sent.
        """
        info = await self.conversation(request.thread_ref)
        canned = self.render(info, request.key, request.params, request.agent_name)
        reply = AgentReply(
            thread_ref=request.thread_ref,
            agent=request.agent,
            source_id=request.source_id,
            text=canned.text,
            agent_name=request.agent_name,
        )
        receipt = await self._engine.receive(reply)
        note = agent_note(request.key, canned, asked=info.locale, agent_name=request.agent_name)
        await self._engine.note_to_thread(info.conversation_id, note, source_id=f"{request.source_id}:canned-note")
        return CannedSent(canned=canned, note=note, receipt=receipt)


def agent_note(
    key: str, canned: CannedText, *, asked: str, agent_name: str | None, action: str = "sent the canned answer"
) -> str:
    """The thread note: what the customer got, in which language, the English beside it, and any fallback."""
    who = agent_name or "An agent"
    lines = [f"{who} {action} {key} in {language_name(canned.locale)}:", canned.text]
    if canned.text != canned.source_text:
        lines.append(f"English: {canned.source_text}")
    if canned.fell_back:
        lines.append(f"No {language_name(asked)} translation for {key}; sent in {language_name(canned.locale)}.")
    return "\n".join(lines)

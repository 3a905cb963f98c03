"""This module contains the FAQ bot: before an agent joins, a customer message that names an FAQ answer's keywords
gets that canned answer at once, in the customer's language, with "That answers my question" and "Talk to a person"
under it.

An FAQ answer is a canned answer ``K`` whose catalog also holds ``K.keywords``: a comma-separated list of words and
phrases, translated per language in canned.po like any entry. A message matches when one of its conversation's
language's keywords, or one of the English ones, appears in it as whole words, ignoring case (a keyword in a script
written without spaces, such as Chinese, matches inside a sentence too). ``Keywords`` compiles the patterns when the
catalogs load (and again when a canned.po changes): one per language, plus one of every keyword of every language
that the desk tries on each customer message without touching the database. Only a hit there reads the
conversation (``answer``), whose language then decides.

The bot answers while the conversation is its own: not resolved, nobody assigned, no agent reply yet, not handed
off; and each answer at most once per conversation. Both facts are messages with fixed keys, no column:
``faq:<conversation>:<key>`` is an answer, ``faq-handoff:<conversation>`` the customer's request for a person.
A press of one of the two choices is ``settle``d: "That answers my question" resolves the conversation (the bot
resolved it alone, as ``/stats`` counts), "Talk to a person" hands it to the agents. The notes are for the agents
(English).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge import texts
from bridge.canned import KEYWORDS, language_name
from bridge.choices import Prompt
from bridge.engine import CONVERSATION, IDENTITY, MESSAGE
from bridge.events import ChannelKind, Choice, ExternalRef
from bridge.i18n import CANNED_DOMAIN, Catalogs, placeholder_names
from bridge.model import ConversationStatus
from bridge.words import first_word, words_of

__all__ = [
    "ASKED_NOTE",
    "RESOLVED_NOTE",
    "Answer",
    "Keywords",
    "Reply",
    "Settled",
    "answer",
    "answer_key",
    "chosen",
    "handoff_key",
    "settle",
    "split_keywords",
]

ASKED_NOTE = "The customer asked for a person."
RESOLVED_NOTE = "Resolved by the FAQ bot: the customer said the answer was enough."
_SEPARATORS = re.compile(r"[,;，；、]")  # translators may use their script's own comma
_UNSPACED = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR")  # scripts without spaces between words

Lists = tuple[tuple[str | None, str, str], ...]
"""(locale, FAQ key, its keyword list as the catalog gives it); locale None is the English source."""


class Reply(StrEnum):
    """The choices under an FAQ answer (their ids)."""

    ANSWERED = "faq:answered"
    PERSON = "faq:person"


def chosen(choice_id: str) -> Reply | None:
    """The FAQ reply a pressed choice gives, or None when the choice is not one of the FAQ bot's."""
    return next((reply for reply in Reply if reply.value == choice_id), None)


def answer_key(conversation_id: int, key: str) -> str:
    """The message key (source id) of the FAQ answer ``key`` in a conversation: at most one each."""
    return f"faq:{conversation_id}:{key}"


def handoff_key(conversation_id: int) -> str:
    """The message key of "someone will be with you shortly": the mark of a conversation handed to the agents."""
    return f"faq-handoff:{conversation_id}"


def split_keywords(text: str) -> list[str]:
    """``"refund, money back"`` -> ``["refund", "money back"]`` (typographic apostrophes made plain)."""
    return [word.strip().replace("’", "'") for word in _SEPARATORS.split(text) if word.strip()]


# ---------------------------------------------------------------------------------------------------------------
# Matching


@dataclass(frozen=True, slots=True)
class _Compiled:
    lists: Lists  # what the patterns were built from: a reload rebuilds them only when it differs
    keys: tuple[str, ...]  # the group ``k<i>`` of the language patterns is ``keys[i]``
    by_first_word: Mapping[str, re.Pattern[str]]  # a keyword's first word (case-folded) -> every keyword it starts
    unspaced: re.Pattern[str] | None  # every keyword that starts in a script without spaces (Chinese ...)
    english: re.Pattern[str] | None
    by_locale: Mapping[str, re.Pattern[str] | None]  # that language's keywords and the English ones


@final
class Keywords:
    """The FAQ answers' keyword lists, compiled; re-read from the catalogs at most every ``reload_interval``."""

    def __init__(self, catalogs: Catalogs) -> None:
        self._catalogs = catalogs
        self._stamp = catalogs.stamp(CANNED_DOMAIN)
        self._compiled = _compile(_read(catalogs))
        self._checked_at = time.monotonic()

    def mentioned(self, text: str, words: frozenset[str] | None = None) -> bool:
        """Whether ``text`` names any FAQ keyword of any language (the hot path: a few microseconds, no database).

        Only the keywords starting with one of the message's ``words`` (``words_of(text)``, computed here when not
        given) are tried, so common words cost little.
        """
        compiled = self._current()
        if compiled.unspaced is not None and not text.isascii() and compiled.unspaced.search(text) is not None:
            return True
        by_first_word = compiled.by_first_word
        words = words_of(text) if words is None else words
        if by_first_word.keys().isdisjoint(words):  # most messages: one C loop, no pattern tried
            return False
        return any(by_first_word[word].search(text) is not None for word in words if word in by_first_word)

    def match(self, locale: str, text: str) -> str | None:
        """The FAQ answer whose keywords (``locale``'s or English) ``text`` names first; None when none does."""
        compiled = self._current()
        pattern = compiled.by_locale.get(locale, compiled.english)
        found = pattern.search(text) if pattern is not None else None
        if found is None or found.lastgroup is None:
            return None
        return compiled.keys[int(found.lastgroup.removeprefix("k"))]

    def _current(self) -> _Compiled:
        now = time.monotonic()
        if now - self._checked_at >= self._catalogs.reload_interval:
            self._checked_at = now
            stamp = self._catalogs.stamp(CANNED_DOMAIN)  # a stat per file; reading every list took ~20 ms
            if stamp != self._stamp:
                self._stamp = stamp
                lists = _read(self._catalogs)
                if lists != self._compiled.lists:
                    self._compiled = _compile(lists)
        return self._compiled


def _read(catalogs: Catalogs) -> Lists:
    """Every FAQ answer's keyword list, in English and in each language (untranslated: the fallback's)."""
    sources = catalogs.canned_sources()
    keys = [key.removesuffix(KEYWORDS) for key in sources if key.endswith(KEYWORDS)]
    keys = [key for key in keys if _without_placeholders(sources.get(key))]
    english: Lists = tuple((None, key, sources[key + KEYWORDS]) for key in keys)
    return english + tuple(
        (locale, key, catalogs.canned(locale, key + KEYWORDS).text) for locale in catalogs.available for key in keys
    )


def _without_placeholders(source: str | None) -> bool:
    """Whether the bot can send this answer as it is: it exists and has no ``{value}`` only an agent can give."""
    try:
        return source is not None and not placeholder_names(source)
    except ValueError:
        return False


def _compile(lists: Lists) -> _Compiled:
    keys = tuple(sorted({key for _locale, key, _text in lists}))
    words: dict[str | None, dict[str, list[str]]] = {}
    for locale, key, text in lists:
        words.setdefault(locale, {})[key] = [word for word in split_keywords(text) if first_word(word) is not None]
    english = words.get(None, {})
    first_words: dict[str, set[str]] = {}
    unspaced: set[str] = set()
    for by_key in words.values():
        for found in by_key.values():
            for word in found:
                if _unspaced(word[0]):
                    unspaced.add(word)
                else:
                    first_words.setdefault(first_word(word) or word, set()).add(word)
    return _Compiled(
        lists=lists,
        keys=keys,
        by_first_word={first: _any_of(found) for first, found in first_words.items()},
        unspaced=_any_of(unspaced) if unspaced else None,
        english=_pattern(keys, english),
        by_locale={
            locale: _pattern(keys, {key: [*english.get(key, ()), *by_key.get(key, ())] for key in keys})
            for locale, by_key in words.items()
            if locale is not None
        },
    )


def _any_of(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(sorted(_word(word) for word in words)), re.IGNORECASE)


def _pattern(keys: tuple[str, ...], words: Mapping[str, Iterable[str]]) -> re.Pattern[str] | None:
    """One group per key, ``k<index>``, of its keywords as whole words, case-insensitive; None without any."""
    groups = [
        f"(?P<k{index}>{'|'.join(sorted({_word(word) for word in words.get(key, ())}))})"
        for index, key in enumerate(keys)
        if words.get(key)
    ]
    return re.compile("|".join(groups), re.IGNORECASE) if groups else None


def _word(word: str) -> str:
    """A keyword as a pattern: any run of spaces between its words, either apostrophe, and word boundaries where
    its script has them."""
    body = r"\s+".join(re.escape(part) for part in word.split()).replace("'", "['’]")
    before = "" if _unspaced(word[0]) else r"(?<!\w)"
    after = "" if _unspaced(word[-1]) else r"(?!\w)"
    return before + body + after


def _unspaced(char: str) -> bool:
    return unicodedata.name(char, "").startswith(_UNSPACED)


# ---------------------------------------------------------------------------------------------------------------
# Deciding (in the writer's transaction)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """The bot's answer: ``prompt`` for ``customer`` under the message key ``key``; ``note`` goes in the thread."""

    key: str
    customer: ExternalRef
    prompt: Prompt
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """A press that took effect: ``text`` (key ``key``) for the customer, ``note`` (mentioning ``mention``) for
    the agents."""

    customer: ExternalRef
    text: str
    key: str
    note: str
    mention: str | None = None


_CUSTOMER = sa.select(CONVERSATION.c.locale, CONVERSATION.c.assignee, IDENTITY.c.channel, IDENTITY.c.external_id).join(
    IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id
)
_THE_BOTS = _CUSTOMER.where(
    CONVERSATION.c.status != ConversationStatus.RESOLVED,
    CONVERSATION.c.assignee.is_(None),
    CONVERSATION.c.first_response_at.is_(None),
)
"""Conversations the bot may still answer in: nobody has them yet (a hand-off is checked apart)."""


async def answer(
    conn: AsyncConnection, conversation_id: int, text: str, keywords: Keywords, catalogs: Catalogs
) -> Answer | None:
    """The FAQ answer to the customer's ``text``, if the conversation is still the bot's and has not had it yet."""
    row = (await conn.execute(_THE_BOTS.where(CONVERSATION.c.id == conversation_id))).first()
    key = None if row is None else keywords.match(row.locale, text)
    if row is None or key is None:
        return None
    message_key = answer_key(conversation_id, key)
    if (await conn.execute(_texts_under(message_key, handoff_key(conversation_id)).limit(1))).first() is not None:
        return None  # answered with this already, or handed off
    canned = catalogs.canned(row.locale, key)
    offered = (
        Choice(id=Reply.ANSWERED, label=catalogs.gettext(row.locale, texts.FAQ_ANSWERED)),
        Choice(id=Reply.PERSON, label=catalogs.gettext(row.locale, texts.FAQ_PERSON)),
    )
    return Answer(
        key=message_key,
        customer=ExternalRef(channel=ChannelKind(row.channel), external_id=row.external_id),
        prompt=Prompt(text=canned.text, choices=offered),
        note=f"🤖 FAQ bot answered with `{key}` ({language_name(canned.locale)}): {canned.text}",
    )


async def settle(
    conn: AsyncConnection,
    conversation_id: int,
    reply: Reply,
    catalogs: Catalogs,
    *,
    prompt_id: int,
    now: datetime,
) -> Settled | None:
    """Apply a press on the FAQ answer ``prompt_id``; None when it no longer applies (nothing is changed).

    "That answers my question" resolves a conversation no agent has answered nor been asked for; "Talk to a person"
    hands an open conversation to the agents, once (its mark is the text the caller stores under ``key``).
    """
    this = CONVERSATION.c.id == conversation_id
    still = [CONVERSATION.c.status != ConversationStatus.RESOLVED, ~_texts_under(handoff_key(conversation_id)).exists()]
    if reply is Reply.ANSWERED:
        values = {"status": ConversationStatus.RESOLVED, "resolved_at": now}
        values |= {"csat_score": None, "csat_at": None, "csat_comment": None}  # like any close: no earlier rating
        unanswered = CONVERSATION.c.first_response_at.is_(None)
        if not (await conn.execute(sa.update(CONVERSATION).where(this, unanswered, *still).values(**values))).rowcount:
            return None
        still = []  # resolved just now
    row = (await conn.execute(_CUSTOMER.where(this, *still))).first()
    if row is None:
        return None
    customer = ExternalRef(channel=ChannelKind(row.channel), external_id=row.external_id)
    if reply is Reply.ANSWERED:
        thanks = catalogs.gettext(row.locale, texts.FAQ_THANKS)
        return Settled(customer=customer, text=thanks, key=f"faq-thanks:{prompt_id}", note=RESOLVED_NOTE)
    coming = catalogs.gettext(row.locale, texts.FAQ_PERSON_COMING)
    key = handoff_key(conversation_id)
    return Settled(customer=customer, text=coming, key=key, note=ASKED_NOTE, mention=row.assignee)


def _texts_under(*keys: str) -> sa.Select[Any]:
    """The texts the bridge stored for the customer under any of ``keys``."""
    return sa.select(MESSAGE.c.id).where(
        MESSAGE.c.source_channel == str(ChannelKind.SLACK), MESSAGE.c.source_id.in_(keys)
    )

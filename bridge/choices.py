"""This module contains choices: buttons offered with a message to the customer, and finding the one they pressed.

A message for the customer may carry a few ``Choice``s (stored with it, ``Message.choices``); the widget shows them
as buttons and Telegram as an inline keyboard. A press comes back as a ``CustomerChoice`` naming our message id and
the choice's id; ``offered`` checks it against what that customer was really offered, so a forged or stale id
changes nothing. What a choice means is the desk's business (``bridge.survey`` for the 1-5 rating).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bridge.engine import CONVERSATION, IDENTITY, MESSAGE
from bridge.events import Choice, CustomerChoice
from bridge.store import Store

__all__ = ["CHOICE_ID", "MAX_CHOICES", "Offered", "Prompt", "as_stored", "from_stored", "is_press", "offered"]

CHOICE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,32}")
"""What a choice id may be: short and plain, so it fits Telegram's 64-byte callback data with our message id."""
MAX_CHOICES = 10
_MAX_ID = 2**31 - 1  # message ids are INTEGER columns: a larger number is no message (and PostgreSQL refuses it)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """A text for the customer with choices under it (``bridge.desk.tell_customer`` stores both)."""

    text: str
    choices: tuple[Choice, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Offered:
    """A valid press: the choice as offered, and the conversation its message belongs to."""

    choice: Choice
    conversation_id: int
    locale: str


def as_stored(choices: Sequence[Choice]) -> list[dict[str, str]]:
    """The JSON kept in ``Message.choices``; raises ValueError for an id or count the channels cannot carry."""
    if not 1 <= len(choices) <= MAX_CHOICES:
        raise ValueError(f"a message offers 1-{MAX_CHOICES} choices, not {len(choices)}")
    for choice in choices:
        if not CHOICE_ID.fullmatch(choice.id) or not choice.label.strip():
            raise ValueError(f"bad choice {choice!r}: ids match {CHOICE_ID.pattern}, labels are not empty")
    return [{"id": choice.id, "label": choice.label} for choice in choices]


def is_press(message_id: int, choice: str) -> bool:
    """Whether a channel's (message id, choice id) pair is well formed: worth asking ``offered`` about."""
    return not isinstance(message_id, bool) and 1 <= message_id <= _MAX_ID and bool(CHOICE_ID.fullmatch(choice))


def from_stored(value: Any) -> tuple[Choice, ...]:
    """The choices of a ``Message.choices`` value (NULL: none)."""
    return tuple(Choice(id=str(item["id"]), label=str(item["label"])) for item in value or ())


async def offered(store: Store, press: CustomerChoice) -> Offered | None:
    """The choice ``press`` names, if our message ``press.message_id`` offered it to this very customer."""
    row = await store.fetch_one(
        sa.select(MESSAGE.c.choices, MESSAGE.c.conversation_id, CONVERSATION.c.locale)
        .join(CONVERSATION, CONVERSATION.c.id == MESSAGE.c.conversation_id)
        .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
        .where(
            MESSAGE.c.id == press.message_id,
            MESSAGE.c.direction == "out",
            IDENTITY.c.channel == str(press.source.channel),
            IDENTITY.c.external_id == press.source.external_id,
        )
    )
    if row is None:
        return None
    choice = next((c for c in from_stored(row.choices) if c.id == press.choice), None)
    if choice is None:
        return None
    return Offered(choice=choice, conversation_id=int(row.conversation_id), locale=row.locale)

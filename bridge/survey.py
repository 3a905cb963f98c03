"""This module contains the survey a customer gets when an agent closes their conversation.

The question carries the choices 1-5 (``question``); a reply that is a single digit answers it too (``typed``).
Once rated, the customer is thanked and invited to add a comment: their next message within ``COMMENT_WINDOW`` is
kept as the rating's comment instead of reopening the conversation. Anything after that reopens it, as before.
``record`` is the conditional write the desk runs in the same job that stores the customer's message, so a
second press, a redelivery or a rating of an earlier close changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, assert_never

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge import texts
from bridge.choices import Prompt
from bridge.engine import CONVERSATION, MESSAGE
from bridge.events import Choice
from bridge.i18n import Catalogs
from bridge.model import ConversationStatus, as_utc
from bridge.redaction import mask_cards
from bridge.sanitize import customer_text

__all__ = [
    "COMMENT_WINDOW",
    "RATINGS",
    "Answer",
    "Comment",
    "Rating",
    "chosen",
    "note",
    "question",
    "record",
    "reply",
    "typed",
]

COMMENT_WINDOW = timedelta(minutes=10)
"""How long after rating the customer's next message is taken as a comment on it (later ones reopen)."""
RATINGS = tuple(Choice(id=f"csat:{score}", label=str(score)) for score in range(1, 6))
_TYPED = re.compile(r"\s*([1-5])\s*")


@dataclass(frozen=True, slots=True)
class Rating:
    score: int


@dataclass(frozen=True, slots=True)
class Comment:
    text: str


Answer = Rating | Comment


def question(catalogs: Catalogs, locale: str) -> Prompt:
    """The survey question in the customer's language, with the ratings as choices."""
    return Prompt(text=catalogs.gettext(locale, texts.SURVEY_QUESTION), choices=RATINGS)


def chosen(choice_id: str) -> Rating | None:
    """The rating a pressed choice gives, or None when the choice is not a survey rating."""
    return next((Rating(int(c.label)) for c in RATINGS if c.id == choice_id), None)


def typed(conversation: Any, text: str, now: datetime) -> Answer | None:
    """What a message to the customer's closed ``conversation`` answers: the rating, its comment, or nothing."""
    if conversation.csat_score is None:
        found = _TYPED.fullmatch(text)
        return None if found is None else Rating(int(found.group(1)))
    if conversation.csat_comment is None and conversation.csat_at is not None:
        if now - as_utc(conversation.csat_at) <= COMMENT_WINDOW:
            return Comment(text.strip())
    return None


async def record(
    conn: AsyncConnection, conversation_id: int, answer: Answer, *, now: datetime, prompt_id: int | None = None
) -> bool:
    """Store ``answer`` on the conversation if it still applies; False when it no longer does.

    A rating needs a closed, unrated conversation and, when pressed (``prompt_id``), the survey of its latest
    close; a comment needs a rating at most ``COMMENT_WINDOW`` old and no comment yet.
    """
    where = [CONVERSATION.c.id == conversation_id, CONVERSATION.c.status == ConversationStatus.RESOLVED]
    match answer:
        case Rating(score=score):
            where.append(CONVERSATION.c.csat_score.is_(None))
            if prompt_id is not None:
                later = sa.select(MESSAGE.c.id).where(
                    MESSAGE.c.conversation_id == conversation_id,
                    MESSAGE.c.id > prompt_id,
                    MESSAGE.c.choices.is_not(None),
                )
                where.append(~later.exists())
            values: dict[str, Any] = {"csat_score": score, "csat_at": now}
        case Comment(text=text):
            where.append(CONVERSATION.c.csat_score.is_not(None))
            where.append(CONVERSATION.c.csat_comment.is_(None))
            where.append(CONVERSATION.c.csat_at >= now - COMMENT_WINDOW)
            values = {"csat_comment": mask_cards(customer_text(text))}  # shown on the Slack card
        case _:
            assert_never(answer)
    done = await conn.execute(sa.update(CONVERSATION).where(*where).values(**values))
    return bool(done.rowcount)


def reply(catalogs: Catalogs, locale: str, answer: Answer) -> str:
    """What the customer hears back: after a rating, thanks and the invitation to comment; after it, thanks."""
    return catalogs.gettext(locale, texts.SURVEY_COMMENT if isinstance(answer, Rating) else texts.FEEDBACK_THANKS)


def note(answer: Answer) -> str:
    """The agents' note in the thread."""
    if isinstance(answer, Rating):
        return f"The customer rated this conversation {answer.score}/5."
    return "The customer added a comment to their rating (it is on the card)."

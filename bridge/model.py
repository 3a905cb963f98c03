"""This module contains the SQLModel tables of the conversation model; nothing else defines tables."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (SQLite gives naive values back: see ``as_utc``)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Normalise a datetime read from the database to aware UTC (SQLite returns naive ones)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _now_column(*, index: bool = False) -> Any:
    """A timezone-aware "now" timestamp column whose default also applies to Core inserts."""
    return Field(
        default_factory=utcnow,
        sa_type=sa.DateTime(timezone=True),
        sa_column_kwargs={"default": utcnow},
        nullable=False,
        index=index,
    )


def _optional_time() -> Any:
    """A nullable timezone-aware timestamp column."""
    return Field(default=None, sa_type=sa.DateTime(timezone=True), nullable=True)


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # the dead letters: failed 5 times, or undeliverable


class Contact(SQLModel, table=True):
    """A person, whatever channels they write from."""

    id: int | None = Field(default=None, primary_key=True)
    display_name: str | None = None
    email: str | None = None
    locale: str | None = None
    external_ref: str | None = Field(default=None, unique=True)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    created_at: datetime = _now_column()


class Identity(SQLModel, table=True):
    """(channel, external id) -> contact: a Telegram chat, a widget visitor, a Slack user."""

    __table_args__ = (sa.UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str
    external_id: str
    contact_id: int = Field(foreign_key="contact.id", index=True)
    created_at: datetime = _now_column()
    last_seen_at: datetime | None = _optional_time()  # a widget visitor's last hello (NULL: created_at)


class Conversation(SQLModel, table=True):
    """One support conversation: one Slack thread."""

    # Ids are never reused (SQLite AUTOINCREMENT, migration 0005): a Slack card names its conversation by id.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    identity_id: int = Field(foreign_key="identity.id", index=True)
    origin_channel: str
    status: str = Field(default=ConversationStatus.OPEN, index=True)
    assignee: str | None = None
    priority: str = "normal"
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    locale: str = "en"
    page_url: str | None = None
    slack_channel: str | None = None
    slack_thread_ts: str | None = Field(default=None, unique=True)
    created_at: datetime = _now_column()
    first_response_at: datetime | None = _optional_time()
    resolved_at: datetime | None = _optional_time()
    csat_score: int | None = None
    csat_at: datetime | None = _optional_time()  # when the customer rated: the comment window starts then
    csat_comment: str | None = None  # what the customer added after rating (optional)
    customer_blocked: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Message(SQLModel, table=True):
    """A message in a conversation; (source_channel, source_id) makes redeliveries idempotent."""

    __table_args__ = (
        sa.UniqueConstraint("source_channel", "source_id", name="uq_message_source"),
        sa.Index("ix_message_conversation_id_id", "conversation_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    direction: str  # "in" (from the customer) or "out" (to the customer, or internal)
    author_kind: str
    author_ref: str | None = None
    author_name: str | None = None
    text: str
    attachments: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, default=list)
    )
    source_channel: str
    source_id: str
    created_at: datetime = _now_column()
    edited_at: datetime | None = _optional_time()
    deleted_at: datetime | None = _optional_time()
    # Buttons offered with an outgoing message (``bridge.choices``); NULL for nearly every message.
    choices: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))


class Delivery(SQLModel, table=True):
    """The outbox: one row per message per target, delivered in order per conversation."""

    __table_args__ = (
        sa.Index("ix_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_delivery_conversation_id_id", "conversation_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    kind: str = "message"  # "message" (post it) or "edit" (replace the text already posted)
    target_channel: str
    target_ref: str
    idempotency_key: str = Field(unique=True)
    status: str = Field(default=DeliveryStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime = _now_column()
    remote_id: str | None = None
    last_error: str | None = None
    created_at: datetime = _now_column()
    sent_at: datetime | None = _optional_time()


class Agent(SQLModel, table=True):
    """A Slack user who answers customers."""

    id: int | None = Field(default=None, primary_key=True)
    slack_user_id: str = Field(unique=True)
    name: str | None = None
    available: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    max_open: int = Field(default=5, sa_column_kwargs={"server_default": "5"})
    last_offered_at: datetime | None = _optional_time()  # round-robin: the longest-waiting agent goes next

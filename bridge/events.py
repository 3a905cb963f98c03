"""This module contains the normalized records that cross the channel boundary.

Adapters turn platform input into ``Inbound`` records and perform ``Outbound`` deliveries;
the core (``bridge/``) never sees a platform payload. Records are frozen, slotted,
keyword-only dataclasses so they are cheap, hashable and comparable in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal


class ChannelKind(StrEnum):
    """A platform the bridge talks to. Stored as text."""

    WEB = "web"
    TELEGRAM = "telegram"
    SLACK = "slack"


class AuthorKind(StrEnum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"
    NOTE = "note"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalRef:
    """A person or chat on a platform (maps to an ``Identity`` row)."""

    channel: ChannelKind
    external_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A file reference (never the bytes): where to fetch it and what it is."""

    name: str
    media_type: str
    size: int
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """A button offered with a message to the customer: ``id`` comes back when it is chosen, ``label`` is shown
    (already in the customer's language). See ``bridge.choices``."""

    id: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """What a channel knows about the customer; applied when a contact is created or updated."""

    display_name: str | None = None
    locale: str | None = None
    languages: tuple[str, ...] = ()  # further preferences after ``locale``, best first (the browser's languages)
    page_url: str | None = None
    attributes: Mapping[str, object] = field(default_factory=dict)
    # The client's network address (the widget's; Telegram hides its customers'): the desk counts the new
    # conversations per address with it (``bridge.abuse``). Never stored.
    address: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerMessage:
    """A customer wrote something (text and/or files).

    ``source_id`` is the platform's id for this message, unique per channel; it is the
    idempotency key, so a redelivered message is stored once.
    """

    kind: Literal["customer_message"] = "customer_message"
    source: ExternalRef
    source_id: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    profile: Profile = field(default_factory=Profile)


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerEdit:
    """A customer edited an earlier message (identified by its ``source_id``)."""

    kind: Literal["customer_edit"] = "customer_edit"
    source: ExternalRef
    target_source_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentReply:
    """An agent wrote in a conversation's Slack thread (``thread_ref`` is the thread root ts)."""

    kind: Literal["agent_reply"] = "agent_reply"
    thread_ref: str
    agent: ExternalRef
    source_id: str
    text: str
    agent_name: str | None = None
    is_note: bool = False
    attachments: tuple[Attachment, ...] = ()  # files the agent shared with the reply (``file_share``)


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerBlocked:
    """The customer blocked (``blocked=True``) or unblocked the bot: replies cannot or can reach them."""

    kind: Literal["customer_blocked"] = "customer_blocked"
    source: ExternalRef
    blocked: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerHello:
    """The customer opened the chat without writing yet (Telegram ``/start``): greet them, post nothing in Slack."""

    kind: Literal["customer_hello"] = "customer_hello"
    source: ExternalRef
    profile: Profile = field(default_factory=Profile)


@dataclass(frozen=True, slots=True, kw_only=True)
class LocaleChoice:
    """The customer explicitly chose a language (Telegram ``/language``); it beats every negotiated locale."""

    kind: Literal["locale_choice"] = "locale_choice"
    source: ExternalRef
    locale: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerChoice:
    """The customer pressed one of the ``choices`` of our message ``message_id`` (its id in the database).

    ``source_id`` is one per customer and message, so a second press of the same question is a duplicate.
    """

    kind: Literal["customer_choice"] = "customer_choice"
    source: ExternalRef
    source_id: str
    message_id: int
    choice: str
    profile: Profile = field(default_factory=Profile)


Inbound = CustomerMessage | CustomerEdit | AgentReply | CustomerBlocked | CustomerHello | LocaleChoice | CustomerChoice


class ReceiptStatus(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    LIMITED = "limited"  # refused by an abuse limit (``bridge.abuse``): nothing stored; the customer may try later


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """What ``Engine.receive`` tells the adapter: it may acknowledge once this exists."""

    status: ReceiptStatus
    message_id: int | None = None
    conversation_id: int | None = None
    reason: str | None = None


# --- outbound -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationCard:
    """What a Slack thread root card shows about a conversation."""

    conversation_id: int
    customer_name: str
    channel: ChannelKind
    locale: str
    page_url: str | None
    first_message: str
    attributes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundCard:
    """Open a conversation thread: post the root card. The remote id is the thread ref."""

    kind: Literal["card"] = "card"
    delivery_id: int
    card: ConversationCard
    maybe_sent_after: datetime | None = None  # see OutboundText


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundText:
    """Deliver one message to a target.

    For Slack, ``target.external_id`` is the thread ref (root ts); for the widget the visitor
    id; for Telegram the chat id. ``message_id`` is our id, ``created_at`` its storage time.
    """

    kind: Literal["text"] = "text"
    delivery_id: int
    message_id: int
    conversation_id: int
    target: ExternalRef
    author: AuthorKind
    author_name: str | None
    text: str
    attachments: tuple[Attachment, ...] = ()
    choices: tuple[Choice, ...] = ()  # buttons under the message; the customer may press one
    created_at: datetime
    idempotency_key: str | None = None  # the delivery's unique key; Slack posts carry it in message metadata
    # Set when an earlier process may have posted this (it was pending when this one started, and a process
    # that dies between the platform's accept and our "sent" mark leaves it so): a channel that can look for it
    # (Slack: the thread's messages carrying the key) must do so before posting again. The posting happened at
    # this time or later.
    maybe_sent_after: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundEdit:
    """Replace the text of a message already delivered (``remote_id`` from its delivery)."""

    kind: Literal["edit"] = "edit"
    delivery_id: int
    target: ExternalRef
    remote_id: str
    text: str


Outbound = OutboundCard | OutboundText | OutboundEdit


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivered:
    """A successful delivery: the platform's id for what was posted (Slack ts, Telegram id)."""

    remote_id: str


class DeliveryError(Exception):
    """Base of every error ``Channel.deliver`` may raise."""


class RetryLater(DeliveryError):
    """Try again later.

    With ``retry_after`` the platform asked us to wait (a 429): the outbox waits exactly that
    long and does not count an attempt. Without it this was a transient failure: the outbox
    backs off exponentially and counts the attempt towards the dead-letter limit.
    """

    def __init__(self, reason: str, retry_after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Undeliverable(DeliveryError):
    """Permanent failure (blocked bot, deleted chat): never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BlockedByCustomer(Undeliverable):
    """The customer blocked the bot: the conversation is marked and later deliveries are not attempted."""

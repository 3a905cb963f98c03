"""This module contains a contact's data as GDPR sees it: finding a person's rows, exporting them, erasing them.

It knows the database only. What the bridge posted about the person on the platforms (root cards and thread posts in
Slack, replies in their Telegram chat) is read out as ``PlatformCopies`` before the rows go;
``channels/slack/erase.py`` and ``channels/telegram/erase.py`` delete those copies.

TL;DR: a person's rows are their contacts, the contacts' identities (a widget visitor's id is the hash of their
session token, so deleting it ends the session), every conversation of those contacts or identities, every message
of those conversations (customers', agents', notes, system texts) and every delivery of those messages or
conversations. Nothing else in the schema points at a contact. The only files Switchboard keeps are what widget
visitors upload, in one folder per visitor (``bridge.upload_files``): ``upload_visitors`` names the person's, and
erase deletes them whole. Other attachments stay on Telegram's and Slack's servers, referenced by URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.deletion import delete_contacts, delete_conversations
from bridge.engine import CONTACT, CONVERSATION, DELIVERY, IDENTITY, MESSAGE
from bridge.events import ChannelKind
from bridge.model import as_utc

__all__ = [
    "ERASE_ORDER",
    "EXPORT_FORMAT",
    "CopiesErased",
    "Leftover",
    "Matched",
    "PlatformCopies",
    "Selector",
    "SlackThread",
    "TelegramCopy",
    "UnknownContact",
    "erase_rows",
    "export",
    "find_contacts",
    "platform_copies",
    "summary_line",
    "upload_visitors",
]

EXPORT_FORMAT = "switchboard-contact-export/1"
ERASE_ORDER = ("delivery", "message", "conversation", "identity", "contact")
"""Tables in the order erase empties them of the person's rows: referencing rows before the rows they reference."""


class UnknownContact(LookupError):
    """A selector matched no contact; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Selector:
    """Who the operator means; the person is every contact any of these matches (each must match one at least)."""

    contact_ids: tuple[int, ...] = ()
    conversation_ids: tuple[int, ...] = ()  # "Conversation #12" on a Slack card: that conversation's contact
    emails: tuple[str, ...] = ()  # Contact.email or the widget's attributes["email"], case-insensitive
    telegram_chats: tuple[str, ...] = ()
    widget_visitors: tuple[str, ...] = ()  # identity external ids of the widget (hashes of session tokens)

    def __bool__(self) -> bool:
        return any((self.contact_ids, self.conversation_ids, self.emails, self.telegram_chats, self.widget_visitors))


@dataclass(frozen=True, slots=True, kw_only=True)
class Matched:
    """One contact of the person, as the operator checks it before an erase."""

    contact_id: int
    display_name: str | None
    email: str | None
    identities: tuple[str, ...]  # "telegram 81234", "web 3f9a..."
    conversations: int
    messages: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackThread:
    """A conversation's thread in Slack: its root card and the posts whose ts the outbox recorded."""

    conversation_id: int
    channel: str | None
    thread_ts: str
    posted: tuple[str, ...] = ()  # remote ids of sent Slack deliveries (first part of each post)


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramCopy:
    """A message in the customer's Telegram chat: ``by_bot`` for the bridge's replies, else the customer's own."""

    chat_id: str
    message_id: str
    by_bot: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformCopies:
    """What of the person exists outside the database, read before the rows are erased."""

    slack_threads: tuple[SlackThread, ...] = ()
    slack_orphans: tuple[tuple[str | None, str], ...] = ()  # (channel, ts) of Slack posts without a thread
    telegram: tuple[TelegramCopy, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Leftover:
    """A copy of the person's data that could not be deleted: where it is and why (for the operator's report)."""

    platform: str
    where: str
    reason: str


@dataclass(slots=True)
class CopiesErased:
    """What deleting the copies on one platform did."""

    deleted: int = 0  # messages deleted
    files_deleted: int = 0
    leftovers: list[Leftover] = field(default_factory=list)


@dataclass(slots=True)
class _Found:
    ids: set[int] = field(default_factory=set)
    unmatched: list[str] = field(default_factory=list)


async def find_contacts(conn: AsyncConnection, selector: Selector) -> list[Matched]:
    """The contacts ``selector`` names, by id, with what each holds.

    Raises:
        UnknownContact: a selector matched nothing (its message names every one that did not).
    """
    found = _Found()
    for contact_id in selector.contact_ids:
        await _match(conn, found, f"contact {contact_id}", sa.select(CONTACT.c.id).where(CONTACT.c.id == contact_id))
    for conversation_id in selector.conversation_ids:
        query = sa.select(CONVERSATION.c.contact_id).where(CONVERSATION.c.id == conversation_id)
        await _match(conn, found, f"conversation {conversation_id}", query)
    for email in selector.emails:
        wanted = email.strip().lower()
        query = sa.select(CONTACT.c.id).where(
            sa.or_(
                sa.func.lower(CONTACT.c.email) == wanted,
                sa.func.lower(CONTACT.c.attributes["email"].as_string()) == wanted,
            )
        )
        await _match(conn, found, f"email {email}", query)
    for channel, refs in ((ChannelKind.TELEGRAM, selector.telegram_chats), (ChannelKind.WEB, selector.widget_visitors)):
        for ref in refs:
            query = sa.select(IDENTITY.c.contact_id).where(
                IDENTITY.c.channel == str(channel), IDENTITY.c.external_id == ref.strip()
            )
            label = "Telegram chat" if channel is ChannelKind.TELEGRAM else "widget visitor"
            await _match(conn, found, f"{label} {ref}", query)
    if found.unmatched:
        raise UnknownContact(f"no contact found for {', '.join(found.unmatched)}")
    return [await _summary(conn, contact_id) for contact_id in sorted(found.ids)]


async def _match(conn: AsyncConnection, found: _Found, label: str, query: sa.Select[Any]) -> None:
    ids = {int(row[0]) for row in (await conn.execute(query)).all()}
    if ids:
        found.ids |= ids
    else:
        found.unmatched.append(label)


async def _summary(conn: AsyncConnection, contact_id: int) -> Matched:
    contact = (await conn.execute(sa.select(CONTACT).where(CONTACT.c.id == contact_id))).one()
    identities = (
        await conn.execute(
            sa.select(IDENTITY.c.channel, IDENTITY.c.external_id)
            .where(IDENTITY.c.contact_id == contact_id)
            .order_by(IDENTITY.c.id)
        )
    ).all()
    conversations = _conversations_of([contact_id])
    counted = await conn.execute(
        sa.select(sa.func.count()).select_from(CONVERSATION).where(CONVERSATION.c.id.in_(conversations))
    )
    messages = await conn.execute(
        sa.select(sa.func.count()).select_from(MESSAGE).where(MESSAGE.c.conversation_id.in_(conversations))
    )
    attributes = contact.attributes or {}
    email = contact.email or (attributes.get("email") if isinstance(attributes.get("email"), str) else None)
    return Matched(
        contact_id=contact_id,
        display_name=contact.display_name,
        email=email,
        identities=tuple(f"{row.channel} {row.external_id}" for row in identities),
        conversations=int(counted.scalar_one()),
        messages=int(messages.scalar_one()),
    )


def _identities_of(contact_ids: Sequence[int]) -> sa.Select[Any]:
    return sa.select(IDENTITY.c.id).where(IDENTITY.c.contact_id.in_(contact_ids))


def _conversations_of(contact_ids: Sequence[int]) -> sa.Select[Any]:
    """The person's conversations: of their contacts, or of their identities (the two agree; both are checked)."""
    return sa.select(CONVERSATION.c.id).where(
        sa.or_(CONVERSATION.c.contact_id.in_(contact_ids), CONVERSATION.c.identity_id.in_(_identities_of(contact_ids)))
    )


def _messages_of(contact_ids: Sequence[int]) -> sa.Select[Any]:
    return sa.select(MESSAGE.c.id).where(MESSAGE.c.conversation_id.in_(_conversations_of(contact_ids)))


def _deliveries_where(contact_ids: Sequence[int]) -> sa.ColumnElement[bool]:
    return sa.or_(
        DELIVERY.c.conversation_id.in_(_conversations_of(contact_ids)),
        DELIVERY.c.message_id.in_(_messages_of(contact_ids)),
    )


async def export(conn: AsyncConnection, contact_ids: Sequence[int], *, now: datetime) -> dict[str, Any]:
    """Everything stored about the contacts, as one JSON-ready document.

    Every column of every row is included as stored (timestamps as ISO 8601 UTC): the contact, its identities,
    each conversation with its survey answer, every message of it (text, author, direction, times, attachments'
    metadata, offered choices) and the deliveries of those messages (where and when each was sent).
    """
    contacts: list[dict[str, Any]] = []
    for contact_id in contact_ids:
        contact = (await conn.execute(sa.select(CONTACT).where(CONTACT.c.id == contact_id))).one()
        identities = await _rows(conn, IDENTITY, IDENTITY.c.contact_id == contact_id, IDENTITY.c.id)
        conversations: list[dict[str, Any]] = []
        where = sa.or_(
            CONVERSATION.c.contact_id == contact_id,
            CONVERSATION.c.identity_id.in_(_identities_of([contact_id])),
        )
        for conversation in await _rows(conn, CONVERSATION, where, CONVERSATION.c.id):
            conversation_id = conversation["id"]
            messages = await _rows(conn, MESSAGE, MESSAGE.c.conversation_id == conversation_id, MESSAGE.c.id)
            deliveries = await _rows(conn, DELIVERY, DELIVERY.c.conversation_id == conversation_id, DELIVERY.c.id)
            survey = {
                "score": conversation["csat_score"],
                "rated_at": conversation["csat_at"],
                "comment": conversation["csat_comment"],
            }
            conversations.append({**conversation, "survey": survey, "messages": messages, "deliveries": deliveries})
        contacts.append({**_plain(CONTACT, contact), "identities": identities, "conversations": conversations})
    return {
        "format": EXPORT_FORMAT,
        "exported_at": as_utc(now).isoformat(),
        "contacts": contacts,
        "message_count": sum(len(c["messages"]) for contact in contacts for c in contact["conversations"]),
    }


async def _rows(
    conn: AsyncConnection, table: sa.Table, where: sa.ColumnElement[bool], order: sa.ColumnElement[Any]
) -> list[dict[str, Any]]:
    return [_plain(table, row) for row in (await conn.execute(sa.select(table).where(where).order_by(order))).all()]


def _plain(table: sa.Table, row: sa.Row[Any]) -> dict[str, Any]:
    """Every column of ``row`` by name; datetimes as ISO 8601 in UTC (SQLite gives them back naive)."""
    values = row._mapping
    return {column.name: _jsonable(values[column]) for column in table.columns}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return value


async def platform_copies(conn: AsyncConnection, contact_ids: Sequence[int]) -> PlatformCopies:
    """The person's messages the bridge knows to exist on Slack and Telegram (read before ``erase_rows``)."""
    conversations = (
        await conn.execute(
            sa.select(CONVERSATION.c.id, CONVERSATION.c.slack_channel, CONVERSATION.c.slack_thread_ts)
            .where(CONVERSATION.c.id.in_(_conversations_of(contact_ids)))
            .order_by(CONVERSATION.c.id)
        )
    ).all()
    remote = (
        await conn.execute(
            sa.select(DELIVERY.c.conversation_id, DELIVERY.c.target_channel, DELIVERY.c.target_ref)
            .add_columns(DELIVERY.c.remote_id)
            .where(_deliveries_where(contact_ids), DELIVERY.c.remote_id.is_not(None))
            .order_by(DELIVERY.c.id)
        )
    ).all()
    posted: dict[int, list[str]] = {}
    telegram: dict[tuple[str, str], TelegramCopy] = {}
    for row in remote:
        if row.target_channel == ChannelKind.SLACK:
            posted.setdefault(int(row.conversation_id), []).append(str(row.remote_id))
        elif row.target_channel == ChannelKind.TELEGRAM:
            copy = TelegramCopy(chat_id=str(row.target_ref), message_id=str(row.remote_id), by_bot=True)
            telegram.setdefault((copy.chat_id, copy.message_id), copy)
    for chat_id, message_id in await _telegram_customer_messages(conn, contact_ids):
        telegram.setdefault((chat_id, message_id), TelegramCopy(chat_id=chat_id, message_id=message_id, by_bot=False))
    threads: list[SlackThread] = []
    orphans: list[tuple[str | None, str]] = []
    for conversation in conversations:
        mine = tuple(dict.fromkeys(posted.pop(int(conversation.id), [])))
        if conversation.slack_thread_ts:
            threads.append(
                SlackThread(
                    conversation_id=int(conversation.id),
                    channel=conversation.slack_channel,
                    thread_ts=str(conversation.slack_thread_ts),
                    posted=mine,
                )
            )
        else:
            orphans.extend((conversation.slack_channel, ts) for ts in mine)
    return PlatformCopies(slack_threads=tuple(threads), slack_orphans=tuple(orphans), telegram=tuple(telegram.values()))


async def _telegram_customer_messages(conn: AsyncConnection, contact_ids: Sequence[int]) -> list[tuple[str, str]]:
    """(chat id, message id) of the customer's own Telegram messages: their source id is ``<chat>:<message id>``."""
    rows = (
        await conn.execute(
            sa.select(MESSAGE.c.source_id).where(
                MESSAGE.c.id.in_(_messages_of(contact_ids)),
                MESSAGE.c.source_channel == str(ChannelKind.TELEGRAM),
                MESSAGE.c.direction == "in",
            )
        )
    ).all()
    found: list[tuple[str, str]] = []
    for (source_id,) in rows:
        chat, _, message = str(source_id).partition(":")
        if chat and message.isdigit():  # a pressed button's source id is "<chat>:choice:<id>": no chat message
            found.append((chat, message))
    return found


async def upload_visitors(conn: AsyncConnection, contact_ids: Sequence[int]) -> list[str]:
    """The person's widget visitor ids: each has a folder of the files they uploaded (read before ``erase_rows``)."""
    rows = await conn.execute(
        sa.select(IDENTITY.c.external_id)
        .where(IDENTITY.c.contact_id.in_(contact_ids), IDENTITY.c.channel == str(ChannelKind.WEB))
        .order_by(IDENTITY.c.id)
    )
    return [str(visitor) for (visitor,) in rows.all()]


async def erase_rows(conn: AsyncConnection, contact_ids: Sequence[int]) -> dict[str, int]:
    """Delete every row of the contacts (run it in one transaction); rows deleted per table, in ``ERASE_ORDER``."""
    deleted = await delete_conversations(conn, _conversations_of(contact_ids))
    return deleted | await delete_contacts(conn, contact_ids)


def summary_line(deleted: Mapping[str, int]) -> str:
    """``delivery 4, message 12, ...``: rows per table, in ``ERASE_ORDER``."""
    return ", ".join(f"{table} {deleted.get(table, 0)}" for table in ERASE_ORDER)

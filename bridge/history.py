"""This module contains what a customer may read back: their own conversation history, notes excluded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bridge.choices import from_stored
from bridge.engine import CONVERSATION, DELIVERY, IDENTITY, MESSAGE
from bridge.events import Attachment, AuthorKind, Choice, ExternalRef
from bridge.model import DeliveryStatus, as_utc
from bridge.store import Store


@dataclass(frozen=True, slots=True)
class HistoryItem:
    id: int
    author: str
    author_name: str | None
    text: str
    created_at: datetime
    delivered: bool
    source_id: str
    choices: tuple[Choice, ...] = ()
    attachments: tuple[Attachment, ...] = ()


async def customer_history(
    store: Store, customer: ExternalRef, *, after_id: int = 0, limit: int = 500
) -> list[HistoryItem]:
    """Messages of this customer's conversations after ``after_id``, oldest first (never internal notes)."""
    delivered = (
        sa.select(DELIVERY.c.id)
        .where(
            DELIVERY.c.message_id == MESSAGE.c.id,
            DELIVERY.c.kind == "message",
            DELIVERY.c.status == DeliveryStatus.SENT,
        )
        .exists()
    )
    rows = await store.fetch_all(
        sa.select(
            MESSAGE.c.id,
            MESSAGE.c.author_kind,
            MESSAGE.c.author_name,
            MESSAGE.c.text,
            MESSAGE.c.created_at,
            MESSAGE.c.direction,
            MESSAGE.c.source_id,
            MESSAGE.c.choices,
            MESSAGE.c.attachments,
            delivered.label("delivered"),
        )
        .join(CONVERSATION, CONVERSATION.c.id == MESSAGE.c.conversation_id)
        .join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id)
        .where(
            IDENTITY.c.channel == str(customer.channel),
            IDENTITY.c.external_id == customer.external_id,
            MESSAGE.c.id > after_id,
            MESSAGE.c.author_kind != AuthorKind.NOTE,
            MESSAGE.c.deleted_at.is_(None),
        )
        .order_by(MESSAGE.c.id)
        .limit(limit)
    )
    return [
        HistoryItem(
            id=row.id,
            author=row.author_kind,
            author_name=row.author_name,
            text=row.text,
            created_at=as_utc(row.created_at),
            delivered=bool(row.delivered),
            source_id=row.source_id,
            choices=from_stored(row.choices),
            attachments=tuple(Attachment(**a) for a in row.attachments or ()),
        )
        for row in rows
    ]


async def identity_seen_since(store: Store, ref: ExternalRef, since: datetime) -> bool:
    """Whether the identity exists and was last seen (its ``last_seen_at``, else ``created_at``) after ``since``:
    a widget session idle since then has expired."""
    row = await store.fetch_one(
        sa.select(IDENTITY.c.id).where(
            IDENTITY.c.channel == str(ref.channel),
            IDENTITY.c.external_id == ref.external_id,
            sa.func.coalesce(IDENTITY.c.last_seen_at, IDENTITY.c.created_at) > since,
        )
    )
    return row is not None

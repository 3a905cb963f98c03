"""This module deletes conversations and contacts with every row that references them, in foreign-key order.

Used by the GDPR erase (``bridge.gdpr``) and by retention (``bridge.retention``); run it inside one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.engine import CONTACT, CONVERSATION, DELIVERY, IDENTITY, MESSAGE

Ids = Sequence[int] | sa.Select[Any]  # ids, or a query selecting them


async def delete_conversations(conn: AsyncConnection, conversations: Ids) -> dict[str, int]:
    """Delete the conversations with their deliveries and messages; rows deleted per table."""
    messages = sa.select(MESSAGE.c.id).where(MESSAGE.c.conversation_id.in_(conversations))
    statements = (
        (
            "delivery",
            sa.delete(DELIVERY).where(
                sa.or_(DELIVERY.c.conversation_id.in_(conversations), DELIVERY.c.message_id.in_(messages))
            ),
        ),
        ("message", sa.delete(MESSAGE).where(MESSAGE.c.conversation_id.in_(conversations))),
        ("conversation", sa.delete(CONVERSATION).where(CONVERSATION.c.id.in_(conversations))),
    )
    return {table: int((await conn.execute(statement)).rowcount) for table, statement in statements}


async def delete_contacts(conn: AsyncConnection, contacts: Ids) -> dict[str, int]:
    """Delete the contacts with their identities (their conversations must be gone); rows deleted per table."""
    statements = (
        ("identity", sa.delete(IDENTITY).where(IDENTITY.c.contact_id.in_(contacts))),
        ("contact", sa.delete(CONTACT).where(CONTACT.c.id.in_(contacts))),
    )
    return {table: int((await conn.execute(statement)).rowcount) for table, statement in statements}

"""A known support history, inserted straight through the store with fixed timestamps, for the analytics tests.

Relative to ``t0`` (all in the 7 days before ``t0 + 1 day``):

| # | channel  | agent                  | first response | resolved | CSAT | messages in / out (+ internal) |
|---|----------|------------------------|----------------|----------|------|--------------------------------|
| 1 | web      | U1 (assignee)          | 60 s           | 600 s    | 5    | 2 / 1 (+1 note)                |
| 2 | web      | U1 (assignee)          | 120 s          | 1200 s   | 4    | 1 / 1                          |
| 3 | web      | none (the bot answered)| none           | 300 s    | 3    | 1 / 1 bot                      |
| 4 | telegram | U2 (assignee)          | 300 s          | open     |      | 2 / 1                          |
| 5 | telegram | U2 (first reply only)  | 240 s (from the reply: first_response_at left NULL) | open | | 1 / 1 |
| 6 | web      | U1, created 10 days before t0, resolved then; one customer message at t0 (counted, not in the cohort) |
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.engine import CONTACT, CONVERSATION, IDENTITY, MESSAGE
from bridge.store import Store

U1, U2 = "U0AGENT1", "U0AGENT2"


async def seed_history(store: Store, t0: datetime) -> None:
    await store.writer.run(lambda conn: _seed(conn, t0))


async def _seed(conn: AsyncConnection, t0: datetime) -> None:
    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    contact = (
        await conn.execute(sa.insert(CONTACT).values(display_name="Seeded", attributes={}).returning(CONTACT.c.id))
    ).scalar_one()
    identities = {}
    for channel in ("web", "telegram"):
        identities[channel] = (
            await conn.execute(
                sa.insert(IDENTITY)
                .values(channel=channel, external_id=f"seed-{channel}", contact_id=contact)
                .returning(IDENTITY.c.id)
            )
        ).scalar_one()
    hour = 3600.0
    # (channel, assignee, created, first response, resolved, csat, messages: (direction, kind, author, offset))
    history: list[tuple[str, str | None, float, float | None, float | None, int | None, list[Any]]] = [
        ("web", U1, 0, 60, 600, 5, [("in", "customer", None, 0), ("in", "customer", None, 30), ("out", "agent", U1, 60),
                                    ("out", "note", U1, 90)]),
        ("web", U1, hour, 120, 1200, 4, [("in", "customer", None, 0), ("out", "agent", U1, 120)]),
        ("web", None, 2 * hour, None, 300, 3, [("in", "customer", None, 0), ("out", "bot", None, 5)]),
        ("telegram", U2, 3 * hour, 300, None, None, [("in", "customer", None, 0), ("in", "customer", None, 10),
                                                      ("out", "agent", U2, 300)]),
        ("telegram", None, 4 * hour, None, None, None, [("in", "customer", None, 0), ("out", "agent", U2, 240)]),
        ("web", U1, -10 * 24 * hour, 60, 120, None, [("in", "customer", None, 10 * 24 * hour)]),
    ]  # fmt: skip
    for number, (channel, assignee, created, first, resolved, csat, messages) in enumerate(history, 1):
        conversation = (
            await conn.execute(
                sa.insert(CONVERSATION)
                .values(
                    contact_id=contact,
                    identity_id=identities[channel],
                    origin_channel=channel,
                    status="open" if resolved is None else "resolved",
                    assignee=assignee,
                    tags=[],
                    created_at=at(created),
                    first_response_at=None if first is None else at(created + first),
                    resolved_at=None if resolved is None else at(created + resolved),
                    csat_score=csat,
                )
                .returning(CONVERSATION.c.id)
            )
        ).scalar_one()
        for index, (direction, kind, author, offset) in enumerate(messages):
            await conn.execute(
                sa.insert(MESSAGE).values(
                    conversation_id=conversation,
                    direction=direction,
                    author_kind=kind,
                    author_ref=author,
                    text=f"message {index} of conversation {number}",
                    attachments=[],
                    source_channel=channel if direction == "in" else "slack",
                    source_id=f"seed-{number}-{index}",
                    created_at=at(created + offset),
                )
            )

"""The outbox across a stop and a start: a stop leaves the backlog queued, and a start tells the channels which
deliveries an earlier process may already have posted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar, Self

import pytest
import sqlalchemy as sa
from aiohttp import web

from bridge.engine import DELIVERY, MESSAGE, Engine
from bridge.events import (
    ChannelKind,
    CustomerMessage,
    Delivered,
    ExternalRef,
    Outbound,
    OutboundCard,
    OutboundText,
    Profile,
)
from bridge.model import as_utc
from bridge.outbox import STOP_GRACE, Outbox
from bridge.schema import upgrade
from bridge.store import Store


class SlowSlack:
    """A Slack channel that takes ``seconds`` per post and records what it was given."""

    kind: ClassVar[ChannelKind] = ChannelKind.SLACK

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.given: list[Outbound] = []
        self._ts = 0

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def deliver(self, out: Outbound) -> Delivered:
        self.given.append(out)
        await asyncio.sleep(self.seconds)
        self._ts += 1
        return Delivered(remote_id=f"1700000000.{self._ts:06d}")

    async def delivered(self, customer: ExternalRef, message_id: int) -> None:
        return None

    def texts(self) -> list[OutboundText]:
        return [out for out in self.given if isinstance(out, OutboundText)]


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await upgrade(db_url)
    async with Store(db_url) as store:
        yield store


def _message(visitor: str, n: int) -> CustomerMessage:
    return CustomerMessage(
        source=ExternalRef(channel=ChannelKind.WEB, external_id=visitor),
        source_id=f"{visitor}:{n}",
        text=f"{visitor} #{n}",
        profile=Profile(display_name=visitor),
    )


async def _pending(store: Store) -> int:
    row = await store.fetch_one(sa.select(sa.func.count()).where(DELIVERY.c.status == "pending"))
    return int(row[0]) if row is not None else 0


async def test_a_start_flags_what_was_pending_before_it_as_maybe_sent(store: Store) -> None:
    """Without the flag the Slack channel cannot tell a delivery a killed process may have posted from a new one,
    and posts it again."""
    engine = Engine(store, negotiate=lambda prefs: "en")
    for n in range(3):
        await engine.receive(_message("ana", n))
    stored = {
        row.text: as_utc(row.created_at)
        for row in await store.fetch_all(sa.select(MESSAGE.c.text, MESSAGE.c.created_at))
    }
    slack = SlowSlack()
    async with Outbox(store, {ChannelKind.SLACK: slack}):  # type: ignore[dict-item]
        async with asyncio.timeout(10):
            while len(slack.texts()) < 3:  # noqa: ASYNC110 (the outbox runs in its own task)
                await asyncio.sleep(0.01)
        await engine.receive(_message("ana", 3))
        async with asyncio.timeout(10):
            while len(slack.texts()) < 4:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    [card] = [out for out in slack.given if isinstance(out, OutboundCard)]
    assert card.maybe_sent_after == stored["ana #0"]
    flagged = {out.text: out.maybe_sent_after for out in slack.texts()}
    assert flagged == {**{f"ana #{n}": stored[f"ana #{n}"] for n in range(3)}, "ana #3": None}
    assert all(out.idempotency_key for out in slack.texts())


async def test_a_stop_ends_with_the_posts_in_flight_and_keeps_the_backlog(store: Store) -> None:
    """A lane used to drain its whole backlog on stop, holding SIGTERM until the outbox's grace ran out (10 s)."""
    engine = Engine(store, negotiate=lambda prefs: "en")
    for n in range(60):
        await engine.receive(_message(f"v{n % 2}", n))
    slack = SlowSlack(seconds=0.2)
    async with Outbox(store, {ChannelKind.SLACK: slack}):  # type: ignore[dict-item]
        async with asyncio.timeout(10):
            while len(slack.texts()) < 4:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        stopping = time.monotonic()
    took = time.monotonic() - stopping
    assert took < STOP_GRACE / 2, f"the stop took {took:.2f} s"
    given = len(slack.texts())
    assert given < 10 and await _pending(store) == 60 - given


async def test_an_idle_outbox_waits_between_polls(store: Store) -> None:
    """The outbox polls the database for due rows once per POLL_INTERVAL: a poll loop that forgot to schedule the
    next poll spins on the database, taking a core while there is nothing to do."""
    async with Outbox(store, {ChannelKind.SLACK: SlowSlack()}):  # type: ignore[dict-item]
        await asyncio.sleep(0.2)  # the first poll
        cpu = time.process_time()
        await asyncio.sleep(1.5)
        used = time.process_time() - cpu
    assert used < 0.3, f"an idle outbox used {used:.2f} s of CPU in 1.5 s"

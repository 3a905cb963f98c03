"""The outbox: dead letters after 5 attempts, per-conversation order, no lane blocking another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge.engine import DELIVERY, Engine
from bridge.events import ChannelKind, CustomerMessage, ExternalRef, Profile, RetryLater, Undeliverable
from bridge.outbox import Outbox
from bridge.schema import upgrade
from bridge.store import Store
from tests.support.fakes import FakeSlack


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await upgrade(db_url)
    async with Store(db_url) as store:
        yield store


def _message(visitor: str, n: int, text: str) -> CustomerMessage:
    return CustomerMessage(
        source=ExternalRef(channel=ChannelKind.WEB, external_id=visitor),
        source_id=f"{visitor}:{n}",
        text=text,
        profile=Profile(display_name=visitor),
    )


async def _statuses(store: Store) -> dict[str, int]:
    rows = await store.fetch_all(sa.select(DELIVERY.c.status, sa.func.count()).group_by(DELIVERY.c.status))
    return {row[0]: row[1] for row in rows}


async def _until(predicate: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll the database-backed ``predicate`` (there is no event to wait on across the outbox task)."""
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_poison_message_dead_lettered_after_five_attempts_others_flow(store: Store, tmp_path: Path) -> None:
    slack = FakeSlack(failures={"poison": RetryLater("sender raised")})
    engine = Engine(store, negotiate=lambda prefs: "en")
    async with Outbox(store, {ChannelKind.SLACK: slack}, base_backoff=0.01):  # type: ignore[dict-item]
        await engine.receive(_message("a", 1, "poison"))
        await engine.receive(_message("a", 2, "after poison, same chat"))
        for n in range(20):
            await engine.receive(_message(f"other{n}", 1, f"other chat {n}"))

        async def settled() -> bool:
            return (await _statuses(store)).get("pending", 0) == 0

        await _until(settled)
    assert slack.attempts["poison"] == 5
    assert await _statuses(store) == {"sent": 21, "dead": 1}
    # order kept inside the poisoned chat: its later message went after the poison was set aside
    assert slack.posted.index("after poison, same chat") >= 0
    assert all(f"other chat {n}" in slack.posted for n in range(20))


async def test_undeliverable_is_dead_at_once(store: Store) -> None:
    slack = FakeSlack(failures={"nope": Undeliverable("channel_not_found")})
    engine = Engine(store, negotiate=lambda prefs: "en")
    async with Outbox(store, {ChannelKind.SLACK: slack}):  # type: ignore[dict-item]
        await engine.receive(_message("b", 1, "nope"))

        async def dead() -> bool:
            return (await _statuses(store)).get("dead", 0) == 1

        await _until(dead)
    assert slack.attempts["nope"] == 1


async def test_order_is_kept_per_conversation(store: Store) -> None:
    slack = FakeSlack()
    engine = Engine(store, negotiate=lambda prefs: "en")
    async with Outbox(store, {ChannelKind.SLACK: slack}):  # type: ignore[dict-item]
        await asyncio.gather(*(engine.receive(_message(f"v{n % 5}", n, f"v{n % 5} #{n}")) for n in range(200)))

        async def done() -> bool:
            return (await _statuses(store)).get("sent", 0) == 200

        await _until(done)
    for visitor in range(5):
        mine = [int(t.split("#")[1]) for t in slack.posted if t.startswith(f"v{visitor} ")]
        assert mine == sorted(mine) and len(mine) == 40

"""Survey answers delivered twice at once: stored once, the copy gets a DUPLICATE receipt, never an exception.

A redelivered answer (a widget resend, a Telegram retry) can be processed while its first copy is: by two tasks
of one process, by two processes sharing PostgreSQL (here: two desks on one database, each with its own store,
writer and caches, as two ``switchboard serve`` processes have), or by another path of another process. Without
the fix the copy either raised ``IntegrityError`` (its answer's insert ran after a check that found nothing, and
after the other path's insert) or, when its rating was refused as already given, fell through to "a message after
the close" and reopened the conversation, with no note and no routing. ``tests.support.races`` makes the copies
meet at the writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge.desk import Actor, Desk
from bridge.engine import CONVERSATION, MESSAGE, Engine
from bridge.events import ChannelKind, CustomerMessage, ExternalRef, Receipt, ReceiptStatus
from bridge.i18n import Catalogs
from bridge.model import ConversationStatus
from bridge.schema import upgrade
from bridge.store import Store
from tests.support.races import until_suspended_in, writer_held

LOCALES = Path(__file__).resolve().parents[2] / "locales"
ANA = ExternalRef(channel=ChannelKind.WEB, external_id="visitor-ana")
THREAD = "1772528400.000100"
ALEX = Actor(user="U0AGENT1", name="Alex")


@dataclass(frozen=True)
class Process:
    """What one bridge process holds of the desk: its store (and writer) and its desk (and caches)."""

    store: Store
    desk: Desk


@asynccontextmanager
async def processes(db_url: str, count: int) -> AsyncIterator[list[Process]]:
    """``count`` desks on one migrated database, as ``count`` bridge processes would run them."""
    await upgrade(db_url)
    catalogs = Catalogs(LOCALES)
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(count):
            store = await stack.enter_async_context(Store(db_url))
            engine = Engine(store, negotiate=catalogs.negotiate)
            started.append(Process(store, Desk(store=store, engine=engine, catalogs=catalogs)))
        yield started


def says(text: str, source_id: str) -> CustomerMessage:
    return CustomerMessage(source=ANA, source_id=source_id, text=text)


async def opened_conversation(p: Process) -> int:
    """Ana's conversation, with its card in the support channel."""
    receipt = await p.desk.receive(says("Where is my order?", "m1"))
    assert receipt.conversation_id is not None
    posted = sa.update(CONVERSATION).values(slack_thread_ts=THREAD)  # what posting the card records
    await p.store.writer.run(lambda conn: conn.execute(posted))
    return receipt.conversation_id


async def closed_conversation(p: Process) -> int:
    """Ana's conversation, closed by Alex from its card (the survey question is out)."""
    conversation_id = await opened_conversation(p)
    await p.desk.close(THREAD, ALEX)
    return conversation_id


async def stored_once(p: Process, source_id: str) -> int:
    rows = await p.store.fetch_all(sa.select(MESSAGE.c.id).where(MESSAGE.c.source_id == source_id))
    assert len(rows) == 1, rows
    return int(rows[0].id)


@pytest.mark.parametrize("count", [1, 2], ids=["two-tasks", "two-processes"])
@pytest.mark.parametrize("answer", ["rating", "comment"])
async def test_an_answer_delivered_twice_at_once_is_stored_once_and_the_conversation_stays_closed(
    db_url: str, count: int, answer: str
) -> None:
    async with processes(db_url, count) as ps:
        first, second = ps[0], ps[-1]
        conversation_id = await closed_conversation(first)
        if answer == "comment":
            await first.desk.receive(says("4", "rating"))
        text = "5" if answer == "rating" else "Quick and friendly, thanks!"
        copy = says(text, "answer")

        async with AsyncExitStack() as held:
            for p in ps:
                await held.enter_async_context(writer_held(p.store))
            deliveries = [asyncio.ensure_future(p.desk.receive(copy)) for p in (first, second)]
            for p in ps:  # every copy has looked the conversation up; the first answer is not committed yet
                await until_suspended_in(Desk.receive, waiting_for=p.store.writer)
        receipts: list[Receipt] = list(await asyncio.gather(*deliveries))

        assert sorted(r.status for r in receipts) == [ReceiptStatus.DUPLICATE, ReceiptStatus.STORED]
        message_id = await stored_once(first, "answer")
        assert {r.message_id for r in receipts} == {message_id}
        row = await first.store.fetch_one(
            sa.select(CONVERSATION.c.status, CONVERSATION.c.csat_score, CONVERSATION.c.csat_comment)
        )
        assert row is not None and row.status == ConversationStatus.RESOLVED  # not reopened by the copy
        if answer == "rating":
            assert (row.csat_score, row.csat_comment) == (5, None)
        else:
            assert (row.csat_score, row.csat_comment) == (4, "Quick and friendly, thanks!")
        thanks = await first.store.fetch_all(sa.select(MESSAGE.c.id).where(MESSAGE.c.source_id.like("csat:%")))
        assert len(thanks) == (1 if answer == "rating" else 2)  # the customer hears back once per answer
        assert conversation_id == receipts[0].conversation_id


async def test_an_answer_stored_meanwhile_by_another_process_is_a_duplicate_not_an_error(db_url: str) -> None:
    """The other process still has Ana's route cached from before the close (each process caches its own), so
    it stores its copy at once; ours was looked up before that and reaches the writer after it."""
    async with processes(db_url, 2) as (ours, other):
        await opened_conversation(ours)
        await other.desk.receive(says("Hello?", "m0"))  # ``other`` knew Ana's conversation before the close
        await ours.desk.close(THREAD, ALEX)
        copy = says("5", "answer")

        async with writer_held(ours.store):
            delivery = asyncio.ensure_future(ours.desk.receive(copy))
            await until_suspended_in(Desk.receive, waiting_for=ours.store.writer)
            stored = await other.desk.receive(copy)
        receipt = await delivery

        assert stored.status is ReceiptStatus.STORED
        assert receipt.status is ReceiptStatus.DUPLICATE
        assert receipt.message_id == stored.message_id == await stored_once(ours, "answer")

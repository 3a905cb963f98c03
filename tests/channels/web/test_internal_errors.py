"""A widget socket that hits an unexpected failure is closed with 1011 ("internal error"), not sent an HTTP 500
over the upgraded connection; every other socket keeps working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import sqlalchemy as sa

from tests.support.harness import Harness


@asynccontextmanager
async def _identity_table_gone(harness: Harness) -> AsyncIterator[None]:
    """A real database failure for the hello of a returning visitor (it looks its session up in ``identity``)."""
    engine = harness.bridge.store.engine
    async with engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE identity RENAME TO identity_gone"))
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE identity_gone RENAME TO identity"))


async def test_a_failing_hello_closes_its_socket_with_1011_and_others_go_on(harness: Harness) -> None:
    async with harness.widget(name="Bystander") as bystander, harness.widget(name="Returning") as first_visit:
        token = first_visit.welcome["session"]
        assert (await bystander.say("hello", "b0"))["status"] == "sent"  # their conversation is open now
        async with _identity_table_gone(harness), aiohttp.ClientSession() as session:
            ws = await session.ws_connect(harness.url("/widget/ws"), headers={"Origin": harness.origin})
            await ws.send_str('{"type": "hello", "session": "' + token + '", "last_seen": 0}')
            closing = await ws.receive(timeout=10)
            assert closing.type is aiohttp.WSMsgType.CLOSE, (closing.type, closing.data)
            assert closing.data == aiohttp.WSCloseCode.INTERNAL_ERROR
            assert closing.extra == "internal error; reconnect"

            ack = await bystander.say("still here", "b1")  # meanwhile, on the same database
            assert ack["status"] == "sent"

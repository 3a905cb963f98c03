"""Abuse limits (reliability target G25), each against the running bridge.

* 20 widget sockets per client address; the 21st upgrade gets 429, another address is unaffected.
* A frame over 64 KB closes the socket with 1009; one of exactly 64 KB is read (and refused as a frame).
* 100 messages a minute per socket: the 101st gets ``rate_limited``, nothing stored.
* 200 messages a minute per conversation, over all the visitor's sockets (each under its own 100) and on
  Telegram: the 201st is refused (widget: ``rate_limited``) or dropped with a log line and one notice a
  minute in the customer's language (Telegram).
* 6 new conversations per client address in 12 h: the 7th visitor from that address gets ``rate_limited``
  (its reason in their language) and nothing of it is stored, while another address and a returning visitor
  are fine. There is no HTTP endpoint that opens a conversation: the widget's socket is the only way in, so
  the refusal is that error frame, never an HTTP 429.
* A socket that answers 2 pings in a row with no pong is closed (1001); one that answers stays open.

Every test visitor connects from a loopback address (127.0.0.1, or 127.0.0.2 for "another address").
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import sqlalchemy as sa

from bridge import texts
from bridge.abuse import MESSAGES_PER_CONVERSATION_PER_MINUTE, NEW_CONVERSATIONS_PER_IP
from bridge.config import ConfigError, Settings
from bridge.engine import CONVERSATION, MESSAGE
from channels.web.channel import MESSAGES_PER_MINUTE
from channels.web.heartbeat import Heartbeat
from channels.web.middleware import MAX_SOCKETS_PER_IP
from channels.web.protocol import MAX_FRAME_BYTES
from tests.support.harness import Harness, Widget, running_bridge, running_slack, running_telegram_bridge

OTHER_ADDRESS = "127.0.0.2"
CHAT = 81234


@asynccontextmanager
async def _client(address: str = "127.0.0.1") -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose connections come from ``address``."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0))) as session:
        yield session


async def _count(h: Harness, table: sa.Table) -> int:
    return len(await h.bridge.store.fetch_all(sa.select(table.c.id)))


async def _say_many(widget: Widget, texts_: list[str], prefix: str) -> None:
    for n, text in enumerate(texts_):
        await widget.send({"type": "message", "client_id": f"{prefix}{n}", "text": text})


async def _acks_and_errors(widgets: list[Widget], acks: int, errors: int) -> tuple[int, list[dict[str, Any]]]:
    """Read every socket until ``acks`` acks and ``errors`` error frames came in over all of them (and a moment
    more, so an ack or error too many would be seen)."""
    got_acks: list[dict[str, Any]] = []
    got_errors: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def read(widget: Widget) -> None:
        while True:
            frame = await widget.expect_any(timeout=30)
            if frame["type"] == "ack":
                got_acks.append(frame)
            elif frame["type"] == "acks":  # a client that said ack_batches
                got_acks.extend(frame["acks"])
            elif frame["type"] == "error":
                got_errors.append(frame)
            arrived.set()

    readers = [asyncio.ensure_future(read(w)) for w in widgets]
    try:
        async with asyncio.timeout(20):
            while len(got_acks) < acks or len(got_errors) < errors:
                arrived.clear()
                await arrived.wait()
        await asyncio.sleep(0.3)
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return len(got_acks), got_errors


# --- sockets and frames ------------------------------------------------------------------


async def test_one_address_gets_20_sockets_and_the_rest_429(harness: Harness) -> None:
    h = harness
    assert MAX_SOCKETS_PER_IP == 20
    url, headers = h.url("/widget/ws"), {"Origin": h.origin}
    async with _client() as one:
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        refused: list[int] = []
        for _ in range(25):
            try:
                sockets.append(await one.ws_connect(url, headers=headers))
            except aiohttp.WSServerHandshakeError as exc:
                refused.append(exc.status)
        assert len(sockets) == 20 and refused == [429] * 5
        async with h.widget(from_address=OTHER_ADDRESS, name="Neighbour") as neighbour:  # the cap is per address
            assert (await neighbour.say("hello", "n1"))["status"] == "sent"
        await sockets.pop().close()  # a closed socket frees its place
        async with asyncio.timeout(5):
            while True:
                try:
                    sockets.append(await one.ws_connect(url, headers=headers))
                    break
                except aiohttp.WSServerHandshakeError:
                    await asyncio.sleep(0.05)  # the server's handler is still winding the closed socket down
        for ws in sockets:
            await ws.close()


async def test_a_frame_over_64_kb_closes_the_socket_with_1009(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Mallory") as widget:
        exactly = '"' + "x" * (MAX_FRAME_BYTES - 2) + '"'  # 64 KiB: read, then refused as a frame
        await widget.ws.send_str(exactly)
        assert (await widget.expect("error"))["code"] == "bad_frame"
        await widget.ws.send_str("x" * (MAX_FRAME_BYTES + 1))
        async with asyncio.timeout(5):
            msg = await widget.ws.receive()
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG == 1009
    assert await _count(h, MESSAGE) == 0


async def test_a_socket_that_leaves_2_pings_unanswered_is_closed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp's own heartbeat closed a socket after one missed pong; the target says after 2 missed pings."""
    h = harness
    monkeypatch.setattr(Heartbeat, "interval", 0.2)
    url, headers = h.url("/widget/ws"), {"Origin": h.origin}
    hello = orjson.dumps({"type": "hello", "session": None, "last_seen": 0}).decode()
    async with aiohttp.ClientSession() as session:
        silent = await session.ws_connect(url, headers=headers, autoping=False)  # never answers a ping
        answering = Widget(await session.ws_connect(url, headers=headers))  # answers while it reads
        await answering.send({"type": "hello", "session": None, "last_seen": 0, "name": "Awake"})
        await answering.expect("welcome")

        async def answering_stays_open() -> None:  # aiohttp's client answers pings while it reads
            with pytest.raises(TimeoutError):  # receive(timeout=) would start its timeout over at each ping
                async with asyncio.timeout(1.0):
                    await answering.ws.receive()  # nothing but pings comes meanwhile, and no close

        watcher = asyncio.ensure_future(answering_stays_open())
        started = time.monotonic()
        await silent.send_str(hello)
        await silent.ping(b"are you there")  # autoping is off on the server too: the session answers pings
        seen: list[aiohttp.WSMessage] = []
        async with asyncio.timeout(5):
            while (msg := await silent.receive()).type in (
                aiohttp.WSMsgType.PING,
                aiohttp.WSMsgType.PONG,
                aiohttp.WSMsgType.TEXT,
            ):
                seen.append(msg)
        elapsed = time.monotonic() - started
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY
        assert [m.data for m in seen if m.type is aiohttp.WSMsgType.PONG] == [b"are you there"]
        assert len([m for m in seen if m.type is aiohttp.WSMsgType.PING]) == Heartbeat.missed_limit == 2
        assert 0.5 <= elapsed < 3.0  # pings at 0.2 s and 0.4 s, closed at the beat after: 0.6 s
        await watcher  # its neighbour answered every ping meanwhile: still open, and it still works
        assert (await answering.say("still here", "a1"))["status"] == "sent"
        await answering.ws.close()
        await silent.close()


# --- messages a minute ----------------------------------------------------------------------


async def test_the_101st_message_a_minute_on_one_socket_is_refused(harness: Harness) -> None:
    h = harness
    assert MESSAGES_PER_MINUTE == 100
    async with h.widget(name="Chatty") as widget:
        await _say_many(widget, [f"m{n}" for n in range(MESSAGES_PER_MINUTE + 1)], "c")
        acks, errors = await _acks_and_errors([widget], acks=MESSAGES_PER_MINUTE, errors=1)
        assert acks == MESSAGES_PER_MINUTE and [e["code"] for e in errors] == ["rate_limited"]
        assert errors[0]["client_id"] == f"c{MESSAGES_PER_MINUTE}"  # the refused one, named
        await widget.send({"type": "ping"})  # still open
        await widget.expect("pong")
    assert await _count(h, MESSAGE) == MESSAGES_PER_MINUTE


async def test_the_201st_message_a_minute_in_one_conversation_is_refused_over_all_its_sockets(
    harness: Harness,
) -> None:
    """Three tabs of one visitor, 67 messages each (each tab under its own 100 a minute): 201 in the conversation."""
    h = harness
    limit = MESSAGES_PER_CONVERSATION_PER_MINUTE
    assert limit == 200
    async with h.widget(name="Ana", locale="tr") as first:
        token = first.welcome["session"]
        async with (
            h.widget(name="Ana", locale="tr", session=token) as second,
            h.widget(name="Ana", locale="tr", session=token, ack_batches=True) as third,
        ):
            tabs = [first, second, third]
            await asyncio.gather(
                *(_say_many(tab, [f"t{i}-{n}" for n in range(67)], f"t{i}-") for i, tab in enumerate(tabs))
            )
            acks, errors = await _acks_and_errors(tabs, acks=limit, errors=1)
            assert acks == limit and [e["code"] for e in errors] == ["rate_limited"]
            assert re.fullmatch(r"t[0-2]-[0-9]+", errors[0]["client_id"])  # refused after storing: named too
            assert errors[0]["reason"] == h.bridge.catalogs.gettext("tr", texts.RATE_LIMITED)  # in their language
            async with h.widget(name="Ben") as other:  # another conversation is not affected
                assert (await other.say("hello", "b1"))["status"] == "sent"
    assert await _count(h, MESSAGE) == limit + 1
    assert await _count(h, CONVERSATION) == 2


async def test_telegram_drops_the_201st_message_a_minute_and_says_so_once(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limit = MESSAGES_PER_CONVERSATION_PER_MINUTE
    caplog.set_level(logging.WARNING, logger="switchboard.telegram")
    async with running_telegram_bridge(db_url, tmp_path, "webhook") as h:
        telegram = h.telegram
        assert telegram is not None
        for n in range(limit + 2):
            telegram.user_sends(CHAT, f"m{n}", first_name="Ayşe", language_code="tr")

        def dropped() -> list[logging.LogRecord]:
            return [r for r in caplog.records if "dropped message" in r.getMessage()]

        await telegram.wait_for(lambda: len(dropped()) == 2, timeout=30)
        assert [r.getMessage().split(" of chat ")[1].split(":")[0] for r in dropped()] == [str(CHAT)] * 2
        assert not telegram.pending_updates  # acknowledged: Telegram does not redeliver them
        assert await _count(h, MESSAGE) == limit
        rows = await h.bridge.store.fetch_all(sa.select(MESSAGE.c.text).order_by(MESSAGE.c.id))
        assert [r.text for r in rows] == [f"m{n}" for n in range(limit)]
        notice = h.bridge.catalogs.gettext("tr", texts.RATE_LIMITED)
        await asyncio.sleep(0.2)
        assert [m["text"] for m in telegram.sent(CHAT)] == [notice]  # once, though two were dropped


# --- new conversations per address ----------------------------------------------------------


@pytest.fixture
async def limited(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """A bridge with the product's limit of new conversations per client address (the harness turns it off)."""
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, new_conversations_per_ip=NEW_CONVERSATIONS_PER_IP) as h,
    ):
        yield h


async def test_a_7th_new_conversation_from_one_address_in_12_hours_is_refused(limited: Harness) -> None:
    h = limited
    assert NEW_CONVERSATIONS_PER_IP == 6
    tokens = []
    for n in range(6):
        async with h.widget(name=f"Visitor {n}") as widget:
            assert (await widget.say("hello", "c1"))["status"] == "sent"
            tokens.append(widget.welcome["session"])
    async with h.widget(name="Seventh", locale="tr") as seventh:
        for attempt in ("c1", "c1", "c2"):  # the widget resends; every try is refused
            await seventh.send({"type": "message", "client_id": attempt, "text": "hello"})
            error = await seventh.expect("error")
            assert error["code"] == "rate_limited"
            assert error["reason"] == h.bridge.catalogs.gettext("tr", texts.RATE_LIMITED)
        assert not [f for f in seventh.seen if f["type"] == "ack"]
    assert await _count(h, CONVERSATION) == 6 and await _count(h, MESSAGE) == 6
    async with h.widget(from_address=OTHER_ADDRESS, name="Elsewhere") as elsewhere:  # another address is fine
        assert (await elsewhere.say("hello", "c1"))["status"] == "sent"
    async with h.widget(name="Visitor 0", session=tokens[0]) as returning:  # writing on is not a new conversation
        assert (await returning.say("me again", "c2"))["status"] == "sent"
    assert await _count(h, CONVERSATION) == 7 and await _count(h, MESSAGE) == 8


def test_the_limit_of_new_conversations_is_a_setting() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_SUPPORT_CHANNEL": "C0SUPPORT"}
    assert Settings.load(env).new_conversations_per_ip == 6
    assert Settings.load({**env, "SWITCHBOARD_NEW_CONVERSATIONS_PER_IP": "0"}).new_conversations_per_ip == 0
    for bad in ("-1", "six", "1.5"):
        with pytest.raises(ConfigError, match="SWITCHBOARD_NEW_CONVERSATIONS_PER_IP"):
            Settings.load({**env, "SWITCHBOARD_NEW_CONVERSATIONS_PER_IP": bad})

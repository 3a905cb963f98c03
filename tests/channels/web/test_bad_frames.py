"""Hostile or broken widget traffic gets a clear error, stores nothing and leaves everyone else unaffected."""

from __future__ import annotations

import aiohttp
import pytest
import sqlalchemy as sa

from bridge.engine import MESSAGE
from channels.web.protocol import MAX_FRAME_BYTES
from tests.support.harness import Harness


async def _rows(harness: Harness) -> int:
    return len(await harness.bridge.store.fetch_all(sa.select(MESSAGE.c.id)))


@pytest.mark.parametrize(
    ("raw", "code", "client_id"),
    [
        ("not json", "bad_json", None),
        ("[1, 2]", "bad_frame", None),
        ('{"type": "teleport"}', "unknown_type", None),
        ('{"type": "message", "client_id": "x"}', "bad_frame", "x"),
        ('{"type": "message", "client_id": "x", "text": "   "}', "bad_frame", "x"),
        ('{"type": "message", "client_id": "' + "x" * 65 + '", "text": "hi"}', "bad_frame", None),
        ('{"type": "message", "client_id": "x", "text": "' + "a" * 10_001 + '"}', "too_long", "x"),
        ('{"type": "message", "client_id": "x", "text": "", "attachments": ["a", "a"]}', "bad_frame", "x"),
        ("[" * 10_000 + "]" * 10_000, "bad_json", None),
    ],
)
async def test_bad_frame_gets_error_frame_and_socket_keeps_working(
    harness: Harness, raw: str, code: str, client_id: str | None
) -> None:
    """A refused message's error names its client_id (when it had a valid one): without it the widget guessed,
    and marked the oldest message still waiting for its ack as the refused one."""
    async with harness.widget(name="Mallory") as widget:
        await widget.ws.send_str(raw)
        error = await widget.expect("error")
        assert error["code"] == code and error["reason"]
        assert error.get("client_id") == client_id
        ack = await widget.say("still fine", "ok1")
        assert ack["status"] == "sent"
    assert await _rows(harness) == 1


async def test_message_before_hello_is_refused(harness: Harness) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(harness.url("/widget/ws"), headers={"Origin": harness.origin})
        await ws.send_str('{"type": "message", "client_id": "a", "text": "hi"}')
        frame = await ws.receive_json()
        assert frame["code"] == "not_authenticated"
        await ws.close()
    assert await _rows(harness) == 0


async def test_forged_session_token_is_refused(harness: Harness) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(harness.url("/widget/ws"), headers={"Origin": harness.origin})
        await ws.send_str('{"type": "hello", "session": "' + "A" * 32 + '", "last_seen": 0}')
        frame = await ws.receive_json()
        assert frame["code"] == "bad_session"
        await ws.close()


@pytest.mark.parametrize(
    ("payload", "close_code"),
    [
        ("binary", aiohttp.WSCloseCode.UNSUPPORTED_DATA),
        ("oversized", aiohttp.WSCloseCode.MESSAGE_TOO_BIG),
        ("invalid_utf8", aiohttp.WSCloseCode.INVALID_TEXT),
    ],
)
async def test_frames_that_break_the_protocol_close_the_socket_with_a_reason(
    harness: Harness, payload: str, close_code: int
) -> None:
    async with harness.widget(name="Mallory") as bystander, aiohttp.ClientSession() as session:
        ws = await session.ws_connect(harness.url("/widget/ws"), headers={"Origin": harness.origin})
        if payload == "binary":
            await ws.send_bytes(b"\x00\x01")
        elif payload == "oversized":
            await ws.send_str('{"type":"ping","pad":"' + "x" * (64 * 1024) + '"}')
        else:
            await ws._writer.send_frame(b'{"type":"ping","x":"\xff\xfe"}', aiohttp.WSMsgType.TEXT)  # type: ignore[union-attr]
        msg = await ws.receive()
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert ws.close_code == close_code
        await ws.close()
        assert (await bystander.say("unaffected", "b1"))["status"] == "sent"


async def test_a_frame_of_exactly_64_kib_is_read_and_one_byte_more_closes_the_socket(harness: Harness) -> None:
    def ping(size: int) -> str:
        frame = '{"type":"ping","pad":"' + "x" * (size - len('{"type":"ping","pad":""}')) + '"}'
        assert len(frame.encode()) == size
        return frame

    async with harness.widget(name="Ana") as widget:
        await widget.ws.send_str(ping(MAX_FRAME_BYTES))
        await widget.expect("pong")
        await widget.ws.send_str(ping(MAX_FRAME_BYTES + 1))
        msg = await widget.ws.receive()
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert widget.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


@pytest.mark.parametrize(
    "origin", [None, "https://evil-example.com", "http://127.0.0.1.evil.net", "null", "http://127.0.0.1"]
)
async def test_websocket_from_a_foreign_origin_is_forbidden(harness: Harness, origin: str | None) -> None:
    headers = {} if origin is None else {"Origin": origin}
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(harness.url("/widget/ws"), headers=headers)
    assert refused.value.status == 403

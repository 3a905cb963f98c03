"""Widget sockets are not compressed. Browsers offer permessage-deflate on every WebSocket and aiohttp accepts it by
default; then each socket holds zlib compression state (measured with aiohttp's client and server in one process:
220 KB per socket against 26 KB), and every small JSON frame is compressed and inflated for nearly nothing saved.
A desk with 10,000 visitors online would hold ~2 GB for it."""

from __future__ import annotations

import aiohttp

from tests.support.harness import Harness


async def test_a_client_offering_permessage_deflate_gets_an_uncompressed_socket(harness: Harness) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(harness.url("/widget/ws"), headers={"Origin": harness.origin}, compress=15) as ws:
            assert ws.compress == 0
            await ws.send_str('{"type": "hello", "session": null, "last_seen": 0, "name": "Ann"}')
            welcome = await ws.receive_json(timeout=10)
            assert welcome["type"] == "welcome"  # and the socket works as ever

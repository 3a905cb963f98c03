"""SocketMode's lifecycle at its edges: a rate-limited start, a connection that never opens, a close never answered.

The everyday paths (events, buttons, commands, a refresh, a revoked token) run against the Slack emulator in
``tests/scenarios/test_slack_socket_mode.py``; here the peer misbehaves in ways the emulator does not: a tiny
aiohttp server stands in for Slack's Socket Mode endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bridge.sandbox.slack_socket_mode import APP_TOKEN
from channels.slack import socket_mode
from channels.slack.socket_mode import CLOSE_GRACE, SocketMode, SocketModeStartupError
from tests.support.harness import BOT_TOKEN, running_slack, stop_server

Link = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def slack_link(link: Link) -> AsyncIterator[AsyncApp]:
    """A bolt app whose Slack opens connections to ``link`` (``apps.connections.open`` answers its URL)."""

    async def connections_open(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "url": f"ws://{request.host}/link/"})

    app = web.Application()
    app.router.add_post("/api/apps.connections.open", connections_open)
    app.router.add_get("/link/", link)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(shutdown_timeout=0.1)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=str(server.make_url("/api/")))
    try:
        yield AsyncApp(signing_secret="test-signing-secret", client=client)
    finally:
        await stop_server(server)


async def test_a_close_slack_never_answers_is_dropped_within_the_grace() -> None:
    """Without the grace, aiohttp waits 10 s for the close handshake: the bridge's stop would overrun its 10 s."""

    async def silent(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoclose=False)
        await ws.prepare(request)
        await ws.send_str('{"type":"hello","num_connections":1}')
        await asyncio.sleep(30)  # reads nothing: the app's close frame is never answered
        return ws

    async with slack_link(silent) as bolt:
        connection = SocketMode(bolt, app_token=APP_TOKEN)
        await connection.start()
        started = time.monotonic()
        await connection.close()
        took = time.monotonic() - started

    assert CLOSE_GRACE - 0.1 < took < CLOSE_GRACE + 0.5


async def test_a_first_connection_that_never_opens_fails_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk would retry the refused URL forever, and the bridge would never start (nor say why)."""
    monkeypatch.setattr(socket_mode, "CONNECT_TIMEOUT", 0.3)

    async def refused(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=403, text="forbidden")

    async with slack_link(refused) as bolt:
        with pytest.raises(SocketModeStartupError, match=r"Socket Mode connection \(SLACK_APP_TOKEN\) did not open"):
            await SocketMode(bolt, app_token=APP_TOKEN).start()


async def test_a_rate_limited_start_leaves_slack_sdk_to_ask_again() -> None:
    """``apps.connections.open`` is Tier 1: a restart loop can meet a 429, which is no reason to refuse the token."""
    async with running_slack() as (slack, server):
        slack.fail_next("apps.connections.open", error="ratelimited", retry_after=0)
        client = AsyncWebClient(token=BOT_TOKEN, base_url=str(server.make_url("/api/")))
        bolt = AsyncApp(signing_secret="test-signing-secret", client=client)
        connection = SocketMode(bolt, app_token=slack.socket_mode.app_token)
        await connection.start()
        try:
            assert slack.socket_mode.connected == 1
            assert len(slack.calls_to("apps.connections.open")) == 2
        finally:
            await connection.close()

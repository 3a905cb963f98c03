"""A real bolt AsyncApp served on 127.0.0.1, with a Slack emulator's events_url pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bridge.sandbox.slack import SlackEmulator
from tests.support.harness import stop_server


@asynccontextmanager
async def serving_bolt(emulator: SlackEmulator, signing_secret: str, client: AsyncWebClient) -> AsyncIterator[AsyncApp]:
    """Yield the app (add listeners to it); events, interactions and commands from ``emulator`` reach it."""
    app = AsyncApp(signing_secret=signing_secret, client=client)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    emulator.events_url = str(server.make_url("/slack/events"))
    try:
        yield app
    finally:
        await emulator.drain()
        await stop_server(server)

"""This module contains SocketMode: Slack's events, interactions and slash commands over a WebSocket (SLACK_APP_TOKEN).

A bridge behind a firewall cannot take Slack's HTTP requests; with an app-level token (``xapp-``, scope
``connections:write``) it opens the connection itself. bolt's ``AsyncSocketModeHandler`` (slack_sdk's aiohttp
``SocketModeClient``) hands every envelope to the same bolt app as ``POST /slack/events`` does, so the listeners,
``process_before_response`` (stored before the ack) and the answers (a slash command's text, a modal's
``response_action``, sent in the ack) are the same. A listener that fails (bolt's 500) sends no ack, so Slack
redelivers, as it does after an HTTP 500.

TL;DR: the connection's life

- Start: ``apps.connections.open`` with the app token. Slack refusing the token fails the bridge's start with one
  line naming SLACK_APP_TOKEN (slack_sdk would log a traceback and retry forever); the URL it returned is the
  handler's first (the method is Tier 1: no second call). A first connection not up within ``CONNECT_TIMEOUT``
  fails the start too (slack_sdk would retry a refused URL forever).
- Running: Slack's ``{"type":"disconnect"}`` (it recycles connections every few hours) and a dropped or silent
  socket (no pong within 4 pings) make slack_sdk open a new connection by itself; it logs that under this module's
  logger ("The old session ... has been abandoned", "A new session ... has been established"), and each ``hello``
  is logged here (connected, then reconnected).
- Envelopes: each payload gets the HTTP route's shape check (``channels.slack.shapes``) before bolt reads it. One of a
  shape Slack never sends is acknowledged without a payload (so Slack does not redeliver it) and logged in one
  line: the HTTP route's 400, without an HTTP status to carry it.
- Stop: ``close`` within ``CLOSE_GRACE``; a Slack that does not answer the close handshake has its connection
  dropped. Envelopes in flight then get no ack and Slack redelivers them (to the next connection).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final, final

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from channels.base import ChannelStartupError
from channels.slack.shapes import malformed

__all__ = ["CLOSE_GRACE", "CONNECT_TIMEOUT", "SocketMode", "SocketModeStartupError"]

log = logging.getLogger("switchboard.slack.socket_mode")

CONNECT_TIMEOUT: Final = 10.0  # seconds the first connection may take at start
CLOSE_GRACE: Final = 1.0  # seconds Slack gets to answer the close handshake at stop (within background.GRACE)


class SocketModeStartupError(ChannelStartupError):
    """Slack refused the app token, or the first Socket Mode connection did not open."""


@final
class SocketMode:
    """The bolt app's Socket Mode connection: opened by ``start``, ended by ``close``."""

    def __init__(self, bolt: AsyncApp, *, app_token: str) -> None:
        self._bolt = bolt
        self._token = app_token
        self._handler: AsyncSocketModeHandler | None = None
        self._hellos = 0  # connections Slack has greeted: every one after the first is a reconnection

    async def start(self) -> None:
        """Open the connection; raises ``SocketModeStartupError`` with the reason."""
        url = await self._first_url()
        # Built only now, in the running loop: the client starts its message task and HTTP session at construction.
        handler = _ShapeCheckedHandler(self._bolt, self._token, logger=log, web_client=self._bolt.client)
        handler.client.message_listeners.append(self._on_message)
        handler.client.wss_uri = url  # its first connection; None: slack_sdk asks apps.connections.open itself
        self._handler = handler
        try:
            await asyncio.wait_for(handler.connect_async(), CONNECT_TIMEOUT)
        except TimeoutError:
            await handler.close_async()
            self._handler = None
            raise SocketModeStartupError(
                f"Slack's Socket Mode connection (SLACK_APP_TOKEN) did not open within {CONNECT_TIMEOUT:.0f} s"
            ) from None

    async def _first_url(self) -> str | None:
        """A WebSocket URL from ``apps.connections.open``; None when rate limited (slack_sdk waits, then asks)."""
        try:
            opened = await self._bolt.client.apps_connections_open(app_token=self._token)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "ratelimited":
                return None
            raise SocketModeStartupError(f"Slack rejected SLACK_APP_TOKEN: {error}") from exc
        except aiohttp.ClientError as exc:
            raise SocketModeStartupError(f"cannot open Slack's Socket Mode (SLACK_APP_TOKEN): {exc}") from exc
        return str(opened["url"])

    async def close(self) -> None:
        """Close the connection; after ``CLOSE_GRACE`` without Slack's answer, drop it."""
        if self._handler is None:
            return
        handler, self._handler = self._handler, None
        closing = asyncio.ensure_future(handler.close_async())
        done, _ = await asyncio.wait({closing}, timeout=CLOSE_GRACE)
        if not done:
            log.warning("slack: Socket Mode close not answered within %s s; dropping the connection", CLOSE_GRACE)
            await handler.client.aiohttp_client_session.close()  # ends the close handshake's wait
        await closing

    async def _on_message(self, _client: AsyncBaseSocketModeClient, message: dict[str, Any], _raw: str | None) -> None:
        """Log each connection Slack greets (slack_sdk reconnects by itself; it handles ``disconnect`` before us)."""
        if message.get("type") == "hello":
            self._hellos += 1
            what = "connected" if self._hellos == 1 else "reconnected"
            log.info("slack: Socket Mode %s (%s connections open)", what, message.get("num_connections"))


class _ShapeCheckedHandler(AsyncSocketModeHandler):
    """bolt's handler, with the HTTP route's shape check first (``handle`` is the handler's documented hook)."""

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        problem = malformed(req.payload)
        if problem is None:
            await super().handle(client, req)  # type: ignore[arg-type]
            return
        log.warning("slack: Socket Mode %s envelope refused: %s", req.type, problem)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

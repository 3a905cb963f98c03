"""This module contains SocketModeServer: the Slack emulator's Socket Mode side (an app with an ``xapp-`` token).

An app in Socket Mode has no Request URL: it calls ``apps.connections.open`` with its app-level token (in the
``Authorization`` header; a ``token`` parameter does not count) and gets a single-use
``ws://127.0.0.1:<port>/link/?ticket=...&app_id=...``. On that WebSocket the emulator sends ``hello``, then every
event, interaction and slash command it would otherwise POST to ``events_url``, each as an envelope::

    {"envelope_id":"...","payload":{...},"type":"events_api","accepts_response_payload":false,
     "retry_attempt":0,"retry_reason":""}

(``interactive`` and ``slash_commands`` envelopes carry no retry fields: Slack retries only events). The app
acknowledges with ``{"envelope_id":"...","payload":{...}}`` on the socket; the ack's payload is what an HTTP
response body would be (a slash command's answer, a view_submission's ``response_action``). An envelope not
acknowledged within the emulator's ``ack_timeout`` is redelivered by the emulator's usual retry policy, as a new
envelope with the same payload (same ``event_id``) and ``retry_attempt`` 1..3, ``retry_reason`` ``"timeout"``.
aiohttp's ``autoping`` answers slack_sdk's pings with pongs echoing their payload, which slack_sdk checks.

Once an app has opened a connection, the workspace behaves like a Socket Mode app's: deliveries go over the newest
open socket, never to ``events_url``; with no socket open at that moment a delivery fails as a connection failure
(and an event is retried). ``disconnect`` sends Slack's ``{"type":"disconnect","reason":"refresh_requested"}``:
slack_sdk then opens a new connection and closes the old one itself; ``close_connections`` closes them from
Slack's side with no warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any, Final, final
from urllib.parse import parse_qs, parse_qsl

import aiohttp
from aiohttp import web

__all__ = ["APP_TOKEN", "CONNECTIONS_OPEN", "SocketModeServer"]

APP_TOKEN: Final = "xapp-1-A0SANDBOX-1-sandbox"  # the sandbox app's app-level token (scope connections:write)
CONNECTIONS_OPEN: Final = "apps.connections.open"
NOT_ACKNOWLEDGED: Final = 504  # the delivery's status when the app sent no ack in time (HTTP-shaped, like a timeout)
_DEBUG_HOST: Final = "applink-sandbox"
_RESPONSE_PAYLOADS: Final = frozenset({"view_submission", "block_suggestion"})  # interactions answered in the ack


@final
class SocketModeServer:
    """``apps.connections.open``, the ``/link/`` WebSocket, envelopes out and acks in.

    Args:
        app_id: the app's id (``A...``), sent in ``hello``.
        dumps: how the emulator serializes JSON the way Slack does.
    """

    def __init__(self, *, app_id: str, dumps: Callable[[Any], bytes]) -> None:
        self.app_token = APP_TOKEN
        self.app_id = app_id
        self.enabled = False  # an app has opened a connection: deliveries go over sockets from now on
        self.envelopes: list[dict[str, Any]] = []  # every envelope sent, in order
        self.acks: list[dict[str, Any]] = []  # every ack received, in order
        self.connections_opened = 0  # sockets that said hello (a reconnect adds one)
        self._dumps = dumps
        self._url_app_id = secrets.token_hex(32)  # Slack's link URLs carry an opaque app_id
        self._tickets: set[str] = set()  # issued, not used yet
        self._sockets: list[web.WebSocketResponse] = []  # open, oldest first
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}  # envelope_id -> its ack's payload

    def install(self, app: web.Application) -> None:
        """Serve the ``/link/`` WebSocket on the emulator's app."""
        app.router.add_get("/link/", self._link)
        app.on_shutdown.append(lambda _app: self.close_connections())

    @property
    def connected(self) -> int:
        """How many sockets are open."""
        return len(self._sockets)

    # ------------------------------------------------------------------ apps.connections.open

    def auth_error(self, request: web.Request) -> str | None:
        """The Web API error for ``apps.connections.open``'s Authorization header, None when it has the app token."""
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if not token:
            return "not_authed"
        if not token.startswith("xapp-"):
            return "not_allowed_token_type"  # a bot or user token: this method takes an app-level token only
        return None if secrets.compare_digest(token, self.app_token) else "invalid_auth"

    async def connections_open(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        """A single-use WebSocket URL for the app."""
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        self.enabled = True
        return {"url": f"ws://{request.host}/link/?ticket={ticket}&app_id={self._url_app_id}"}

    # ------------------------------------------------------------------ the socket

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets or request.query.get("app_id") != self._url_app_id:
            return web.Response(status=401, text="invalid_ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)  # pongs echo the ping's payload: slack_sdk checks them
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections_opened += 1
        try:
            await ws.send_str(self._dumps(self._hello()).decode())
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._on_text(message.data)
        finally:
            self._sockets.remove(ws)
        return ws

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {"host": _DEBUG_HOST, "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    def _on_text(self, data: str) -> None:
        """An ack: ``{"envelope_id": ..., "payload": {...}?}``. A late or unknown one changes nothing."""
        with contextlib.suppress(ValueError):
            ack = json.loads(data)
            if not isinstance(ack, dict) or not isinstance(ack.get("envelope_id"), str):
                return
            self.acks.append(ack)
            waiting = self._pending.get(ack["envelope_id"])
            if waiting is not None and not waiting.done():
                payload = ack.get("payload")
                waiting.set_result(payload if isinstance(payload, dict) else {})

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect, as Slack does before it recycles a connection."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": _DEBUG_HOST}}
        for ws in list(self._sockets):
            await ws.send_str(self._dumps(message).decode())

    async def close_connections(self) -> None:
        """Close every socket without a ``disconnect`` first (Slack's side going away; also when the emulator stops)."""
        for ws in list(self._sockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)

    # ------------------------------------------------------------------ deliveries

    async def send(self, kind: str, body: bytes, *, retry: int, timeout: float) -> tuple[int, str, dict[str, str]]:  # noqa: ASYNC109
        """Deliver what the emulator would POST (``kind``: event, interaction, command) as an envelope.

        Returns what an HTTP delivery returns: (200, the ack's payload as JSON text or "", {}) when acknowledged,
        (``NOT_ACKNOWLEDGED``, "", {}) after ``timeout`` seconds without an ack. Raises
        ``aiohttp.ClientConnectionError`` when no socket is open.
        """
        if not self._sockets:
            raise aiohttp.ClientConnectionError("no Socket Mode connection is open")
        envelope = self._envelope(kind, body, retry)
        acked: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope["envelope_id"]] = acked
        try:
            self.envelopes.append(envelope)
            await self._sockets[-1].send_str(self._dumps(envelope).decode())
            async with asyncio.timeout(timeout):
                payload = await acked
        except TimeoutError:
            return NOT_ACKNOWLEDGED, "", {}
        finally:
            del self._pending[envelope["envelope_id"]]
        return 200, json.dumps(payload) if payload else "", {}

    @staticmethod
    def _envelope(kind: str, body: bytes, retry: int) -> dict[str, Any]:
        """The envelope Slack sends for the body the emulator would POST (key order as Slack writes it)."""
        envelope: dict[str, Any] = {"envelope_id": str(uuid.uuid4())}
        match kind:
            case "event":
                envelope.update(payload=json.loads(body), type="events_api", accepts_response_payload=False)
                return {**envelope, "retry_attempt": retry, "retry_reason": "timeout" if retry else ""}
            case "interaction":
                payload = json.loads(parse_qs(body.decode())["payload"][0])
                accepts = payload.get("type") in _RESPONSE_PAYLOADS
                envelope.update(payload=payload, type="interactive", accepts_response_payload=accepts)
                return envelope
            case "command":
                payload = dict(parse_qsl(body.decode(), keep_blank_values=True))
                envelope.update(payload=payload, type="slash_commands", accepts_response_payload=True)
                return envelope
        raise RuntimeError(f"Slack sends no {kind} over Socket Mode")

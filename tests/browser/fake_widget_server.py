"""A tiny in-memory stand-in for the bridge's web channel, for testing the widget front-end alone.

It serves the widget's static files, ``/demo`` (demo.html), ``/widget/i18n`` and ``/widget/ws``, speaking the
protocol in docs/widget-protocol.md. Tests drive it directly (``push_agent``, ``deliver_all``, ``kill_all``,
``pause``/``resume``); run it by hand with ``python tests/browser/fake_widget_server.py --port 8765`` and push
agent replies with ``curl -d '{"text":"hi"}' localhost:8765/test/agent``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

STATIC = Path(__file__).resolve().parents[2] / "channels" / "web" / "static"

LANGUAGES = [
    {"code": "en", "name": "English"},
    {"code": "tr", "name": "Türkçe"},
    {"code": "ar", "name": "العربية"},
]
BUNDLES: dict[str, dict[str, Any]] = {
    "en": {
        "dir": "ltr",
        "strings": {
            "title": "Chat with Acme",
            "placeholder": "Write a message…",
            "send": "Send",
            "sending": "Sending…",
            "sent": "Sent",
            "delivered": "Delivered",
            "connecting": "Connecting…",
            "reconnecting": "Reconnecting…",
            "online": "We're online",
            "offline": "Offline",
            "language": "Language",
            "close": "Close chat",
            "open": "Open chat",
            "new_messages": "New messages",
            "you": "You",
            "agent": "Agent",
            "support_team": "Acme Support",
            "greeting": "Hi there! Ask us anything, we usually reply within a few minutes.",
        },
    },
    "tr": {
        "dir": "ltr",
        "strings": {
            "title": "Bize yazın",
            "placeholder": "Bir mesaj yazın…",
            "send": "Gönder",
            "sent": "Gönderildi",
            "delivered": "İletildi",
            "online": "Çevrimiçiyiz",
            "support_team": "Acme Destek",
        },
    },
    "ar": {
        "dir": "rtl",
        "strings": {
            "title": "تحدث معنا",
            "placeholder": "اكتب رسالة…",
            "send": "إرسال",
            "sending": "جارٍ الإرسال…",
            "sent": "أُرسلت",
            "delivered": "وصلت",
            "online": "نحن متصلون",
            "close": "إغلاق المحادثة",
            "language": "اللغة",
            "support_team": "فريق الدعم",
            "greeting": "مرحبًا! اسألنا أي شيء، نرد عادة خلال دقائق.",
        },
    },
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Conversation:
    token: str
    locale: str | None = None
    hello: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    by_client_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    sockets: set[web.WebSocketResponse] = field(default_factory=set)


class FakeBridge:
    def __init__(
        self, *, auto_deliver: bool = True, deliver_delay: float = 0.6, substitutions: dict[str, str] | None = None
    ) -> None:
        self.auto_deliver = auto_deliver
        self.deliver_delay = deliver_delay
        self.substitutions = substitutions if substitutions is not None else {"{{SLACK_URL}}": "/slack-demo"}
        self.sessions: dict[str, Conversation] = {}
        self.next_id = 1
        self.hellos: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.drop_before_next_ack = False
        self._gate = asyncio.Event()
        self._gate.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sockets: set[web.WebSocketResponse] = set()

    # ------------------------------------------------------------------ app
    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/widget.js", self._static("widget.js", "text/javascript"))
        app.router.add_get("/widget.css", self._static("widget.css", "text/css"))
        app.router.add_get("/demo", self.demo)
        app.router.add_get("/", self.demo)
        app.router.add_get("/widget/i18n", self.i18n)
        app.router.add_get("/widget/ws", self.ws)
        app.router.add_post("/test/agent", self.http_push_agent)
        app.on_shutdown.append(self._on_shutdown)
        return app

    def _static(self, name: str, ctype: str):
        async def handler(request: web.Request) -> web.Response:
            body = (STATIC / name).read_bytes()
            return web.Response(body=body, content_type=ctype, charset="utf-8", headers={"Cache-Control": "no-store"})

        return handler

    async def demo(self, request: web.Request) -> web.Response:
        html = (STATIC / "demo.html").read_text("utf-8")
        for token, value in self.substitutions.items():
            html = html.replace(token, value)
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def i18n(self, request: web.Request) -> web.Response:
        chosen = "en"
        for pref in request.query.get("lang", "").split(","):
            code = pref.strip().lower().replace("_", "-").split("-")[0]
            if code in BUNDLES:
                chosen = code
                break
        bundle = BUNDLES[chosen]
        body = {"locale": chosen, "dir": bundle["dir"], "strings": bundle["strings"], "languages": LANGUAGES}
        return web.Response(
            body=orjson.dumps(body),
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"},
        )

    # ------------------------------------------------------------------ websocket
    async def ws(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin != f"{request.scheme}://{request.host}":
            raise web.HTTPForbidden(text="origin not allowed")
        ws = web.WebSocketResponse(max_msg_size=64 * 1024)
        await ws.prepare(request)
        self._sockets.add(ws)
        conv: Conversation | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    await ws.close(code=1003)
                    break
                try:
                    frame = orjson.loads(msg.data)
                except orjson.JSONDecodeError:
                    await self._send(ws, {"type": "error", "code": "bad_json", "reason": "not JSON"})
                    continue
                if not isinstance(frame, dict):
                    await self._send(ws, {"type": "error", "code": "bad_frame", "reason": "not an object"})
                    continue
                self.received.append(frame)
                kind = frame.get("type")
                if kind == "hello":
                    await self._gate.wait()
                    conv = await self._hello(ws, frame, conv)
                elif kind == "message":
                    if conv is None:
                        await self._send(ws, {"type": "error", "code": "not_authenticated", "reason": "hello first"})
                    else:
                        await self._message(ws, conv, frame)
                elif kind == "ping":
                    await self._send(ws, {"type": "pong"})
                else:
                    await self._send(ws, {"type": "error", "code": "unknown_type", "reason": str(kind)})
        finally:
            self._sockets.discard(ws)
            if conv is not None:
                conv.sockets.discard(ws)
        return ws

    async def _hello(
        self, ws: web.WebSocketResponse, frame: dict[str, Any], conv: Conversation | None
    ) -> Conversation | None:
        self.hellos.append(frame)
        token = frame.get("session")
        if token is not None and token not in self.sessions:
            await self._send(ws, {"type": "error", "code": "bad_session", "reason": "unknown session"})
            return conv
        if token is None:
            token = secrets.token_urlsafe(24)
            self.sessions[token] = Conversation(token=token)
        new = self.sessions[token]
        if conv is not None and conv is not new:
            conv.sockets.discard(ws)
        new.locale = frame.get("locale") or new.locale
        new.hello = frame
        new.sockets.add(ws)
        last_seen = frame.get("last_seen") or 0
        missed = [m for m in new.messages if m["id"] > last_seen]
        await self._send(
            ws, {"type": "welcome", "session": token, "visitor": {"name": frame.get("name")}, "messages": missed}
        )
        return new

    async def _message(self, ws: web.WebSocketResponse, conv: Conversation, frame: dict[str, Any]) -> None:
        client_id, text = frame.get("client_id"), frame.get("text")
        if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64 or not isinstance(text, str) or not text:
            await self._send(ws, {"type": "error", "code": "bad_frame", "reason": "client_id and text required"})
            return
        if len(text) > 10_000:  # a refused message is named, as the bridge names it
            refused = {"type": "error", "code": "too_long", "reason": "max 10000 characters", "client_id": client_id}
            await self._send(ws, refused)
            return
        existing = conv.by_client_id.get(client_id)
        if existing is not None:  # a resend after a reconnect: same answer, nothing stored twice
            await self._send(ws, {"type": "ack", "client_id": client_id, "id": existing["id"], "status": "sent"})
            if existing["status"] == "delivered":
                await self._send(ws, {"type": "status", "id": existing["id"], "status": "delivered"})
            return
        msg = self._store(conv, "customer", None, text, client_id=client_id, status="sent")
        if self.drop_before_next_ack:  # stored, but the connection dies before the ack leaves
            self.drop_before_next_ack = False
            await ws.close(code=1012)
            return
        await self._send(ws, {"type": "ack", "client_id": client_id, "id": msg["id"], "status": "sent"})
        for other in list(conv.sockets - {ws}):  # the visitor's other tabs
            await self._send(other, {"type": "message", "message": msg})
        if self.auto_deliver:
            self._spawn(self._deliver_later(conv, msg))

    async def _deliver_later(self, conv: Conversation, msg: dict[str, Any]) -> None:
        await asyncio.sleep(self.deliver_delay)
        await self._deliver(conv, msg)

    async def _deliver(self, conv: Conversation, msg: dict[str, Any]) -> None:
        if msg["status"] == "delivered":
            return
        msg["status"] = "delivered"
        for ws in list(conv.sockets):
            await self._send(ws, {"type": "status", "id": msg["id"], "status": "delivered"})

    def _store(
        self,
        conv: Conversation,
        author: str,
        author_name: str | None,
        text: str,
        *,
        client_id: str | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        msg = {
            "id": self.next_id,
            "author": author,
            "author_name": author_name,
            "text": text,
            "created_at": now_iso(),
            "status": status,
            "client_id": client_id,
        }
        self.next_id += 1
        conv.messages.append(msg)
        if client_id:
            conv.by_client_id[client_id] = msg
        return msg

    @staticmethod
    async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        if ws.closed:
            return
        try:
            await ws.send_str(orjson.dumps(frame).decode())
        except ConnectionResetError:
            pass

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_shutdown(self, app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        for ws in list(self._sockets):
            await ws.close(code=1001)

    # ------------------------------------------------------------------ test hooks
    @property
    def conversation(self) -> Conversation:
        """The only (or newest) conversation."""
        return list(self.sessions.values())[-1]

    async def push_agent(
        self, text: str, name: str | None = "Maria Lopez", author: str = "agent", token: str | None = None
    ) -> dict[str, Any]:
        conv = self.sessions[token] if token else self.conversation
        msg = self._store(conv, author, name, text)
        for ws in list(conv.sockets):
            await self._send(ws, {"type": "message", "message": msg})
        return msg

    async def deliver_all(self) -> None:
        for conv in self.sessions.values():
            for msg in conv.messages:
                if msg["author"] == "customer":
                    await self._deliver(conv, msg)

    async def kill_all(self, code: int = 1012) -> None:
        """Close every widget socket from the server side."""
        for ws in list(self._sockets):
            await ws.close(code=code)

    def pause(self) -> None:
        """Hold every hello (no welcome) until resume(): the widget stays 'connecting'."""
        self._gate.clear()

    def resume(self) -> None:
        self._gate.set()

    async def http_push_agent(self, request: web.Request) -> web.Response:
        data = await request.json(loads=orjson.loads)
        if not self.sessions:
            raise web.HTTPConflict(text="no conversation yet")
        msg = await self.push_agent(
            str(data.get("text") or "Hello from the agent"),
            data.get("name", "Maria Lopez"),
            data.get("author", "agent"),
        )
        return web.json_response(msg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    web.run_app(FakeBridge().make_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

"""This module contains WebChannel: the embeddable widget's script, its WebSocket and its sessions."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from bridge.abuse import PerMinute
from bridge.attachments import Fetchers
from bridge.config import SESSION_DAYS
from bridge.events import (
    Attachment,
    ChannelKind,
    CustomerMessage,
    Delivered,
    ExternalRef,
    Outbound,
    OutboundEdit,
    OutboundText,
    Profile,
    Receipt,
    ReceiptStatus,
    Undeliverable,
)
from bridge.history import HistoryItem, customer_history, identity_seen_since
from bridge.model import utcnow
from bridge.store import Store
from bridge.transcript import Transcripts
from bridge.upload_files import UploadFiles
from channels.base import InboundSink, InboundSinkSoon
from channels.web.choices import choice_views, chosen_frame
from channels.web.downloads import WidgetDownloads
from channels.web.heartbeat import Heartbeat
from channels.web.middleware import OriginCheck, SocketCap
from channels.web.protocol import (
    MAX_FRAME_BYTES,
    MAX_TEXT_CHARS,
    Choose,
    Hello,
    Ping,
    ProtocolError,
    Say,
    SayWithFiles,
    TranscriptRequest,
    encode,
    error_frame,
    parse_frame,
)
from channels.web.proxies import Network, TrustedProxies
from channels.web.sessions import new_token, visitor_id
from channels.web.transcripts import transcript_frame
from channels.web.uploads import WidgetUploads

log = logging.getLogger("switchboard.web")

STATIC = Path(__file__).resolve().parent / "static"
MESSAGES_PER_MINUTE = 100
HELLOS_PER_MINUTE = 10  # per socket: a widget sends one per connect, and each one writes and reads the database
PIPELINE = 64  # messages of one socket waiting for their commit; reading pauses beyond that
Identify = Callable[[ExternalRef, Profile, datetime | None], Any]  # (visitor, profile, the hello's time)
WidgetBundle = Callable[[Sequence[str | None]], dict[str, Any]]
ErrorReason = Callable[..., str | None]  # (language preferences, error code, limit=...) -> the customer's text


class WebChannel:
    """The website widget: ``GET /widget.js``, ``GET /widget/ws``, ``POST /widget/upload`` (customers' files,
    ``channels.web.uploads``), ``POST /widget/file`` (the files of their conversation, ``channels.web.downloads``);
    the protocol is in docs/widget-protocol.md.

    A visitor's session is a server-issued random token kept by the widget (never in a URL);
    the database only stores its hash as the visitor's identity. Messages are acknowledged
    ("sent") only after ``sink`` committed them; "delivered" follows when Slack has them.
    """

    kind: ClassVar[ChannelKind] = ChannelKind.WEB

    def __init__(
        self,
        *,
        sink: InboundSink,
        store: Store,
        identify: Identify,
        uploads: UploadFiles,
        fetchers: Fetchers,
        sink_soon: InboundSinkSoon | None = None,
        allowed_origins: Sequence[str],
        widget_bundle: WidgetBundle | None = None,
        demo_page: str | None = None,
        error_reason: ErrorReason | None = None,
        transcripts: Transcripts | None = None,
        trusted_proxies: Sequence[Network] = (),
        session_days: int = SESSION_DAYS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sink = sink
        self._sink_soon = sink_soon  # the hot path without a task per message, when the sink has one
        self._store = store
        self._identify = identify
        self._origins = OriginCheck(allowed_origins)
        self._cap = SocketCap()
        self._proxies = TrustedProxies(trusted_proxies)
        self._widget_bundle = widget_bundle
        self._demo_page = demo_page
        self._error_reason = error_reason
        self._transcripts = transcripts  # the ``transcript`` frame: None answers unknown_type
        self._session_period = timedelta(days=session_days)  # a session without a hello this long has expired
        self._clock = clock
        # POST /widget/upload (channels/web/uploads.py): a message's ``attachments`` are looked up there
        self._uploads = WidgetUploads(
            files=uploads,
            origins=self._origins,
            authenticate=self._session_visitor,
            client_address=self._proxies.client,
        )
        # POST /widget/file (channels/web/downloads.py): the bytes behind a message's ``attachments``
        self._downloads = WidgetDownloads(
            store=store, fetchers=fetchers, origins=self._origins, authenticate=self._session_visitor
        )
        self._sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._sessions: dict[web.WebSocketResponse, Session] = {}
        self._open: set[web.WebSocketResponse] = set()  # every socket, with or without a hello

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        routes = [
            web.get("/widget.js", self._static("widget.js", "application/javascript")),
            web.get("/widget.css", self._static("widget.css", "text/css")),
            web.get("/widget/ws", self._websocket),
            web.get("/widget/i18n", self._i18n),
            *self._uploads.routes(),
            *self._downloads.routes(),
        ]
        if self._demo_page is not None:
            routes.append(web.get("/", self._demo))
        return routes

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close_connections()

    async def close_connections(self) -> None:
        """Close every widget socket (the widget reconnects and replays): the server's shutdown waits for open
        handlers, up to a minute, before the channels are stopped."""
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in list(self._open)),
            return_exceptions=True,
        )

    # --- HTTP ---------------------------------------------------------------------------

    def _static(self, name: str, content_type: str) -> Callable[[web.Request], Any]:
        async def handler(_request: web.Request) -> web.StreamResponse:
            path = STATIC / name
            if not path.is_file():
                raise web.HTTPNotFound(text=f"{name} is not built")
            return web.FileResponse(path, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})

        return handler

    async def _demo(self, _request: web.Request) -> web.Response:
        assert self._demo_page is not None
        return web.Response(text=self._demo_page, content_type="text/html")

    async def _i18n(self, request: web.Request) -> web.Response:
        preferences = [tag.strip() for tag in request.query.get("lang", "").split(",") if tag.strip()][:10]
        if self._widget_bundle is None:
            bundle: dict[str, Any] = {"locale": "en", "dir": "ltr", "strings": {}, "languages": []}
        else:
            bundle = self._widget_bundle(preferences)
        # Any site may read it (the widget runs on the operator's site, the bridge on its own origin): the catalogs'
        # widget strings are public, and the answer carries no credentials.
        cors = {"Access-Control-Allow-Origin": "*"}
        return web.Response(text=encode(bundle), content_type="application/json", headers=cors)

    # --- WebSocket ----------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self._origins.allows(request):
            return web.json_response({"error": "origin not allowed"}, status=403)
        address = self._proxies.client(request)
        if not self._cap.acquire(address):
            return web.json_response({"error": "too many connections from this address"}, status=429)
        # aiohttp refuses a frame of max_msg_size bytes or more: +1 lets a frame of exactly 64 KiB through.
        # No aiohttp heartbeat: ours (channels.web.heartbeat) reads the pongs, so the session answers pings.
        # compress=False: browsers offer permessage-deflate; a compressed socket holds ~190 KB of zlib state
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES + 1, autoping=False, compress=False)
        self._open.add(ws)
        try:
            await ws.prepare(request)
            await Session(self, ws, address).run()
        except Exception:  # the connection is a WebSocket now: a 500 response would reach the client as garbage
            log.exception("widget socket failed")
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error; reconnect")
        finally:
            self._open.discard(ws)
            self._cap.release(address)
        return ws

    async def _session_visitor(self, token: str) -> str | None:
        """The visitor of a live session token (known, and seen within the session period), as hello and the file
        routes check it; None for any other token."""
        visitor = visitor_id(token)
        alive = await identity_seen_since(self._store, _ref(visitor), self._clock() - self._session_period)
        return visitor if alive else None

    def _attach(self, visitor: str, session: Session) -> None:
        self._sockets[visitor].add(session.ws)
        self._sessions[session.ws] = session

    def _detach(self, visitor: str, ws: web.WebSocketResponse) -> None:
        self._sessions.pop(ws, None)
        group = self._sockets.get(visitor)
        if group is not None:
            group.discard(ws)
            if not group:
                del self._sockets[visitor]

    def _reason(self, profile: Profile, exc: ProtocolError) -> str:
        """The error's reason in the session's language when the customer reads it (rate limit, too long)."""
        if self._error_reason is None:
            return exc.reason
        limit = MAX_TEXT_CHARS if exc.code == "too_long" else None
        return self._error_reason([profile.locale, *profile.languages], exc.code, limit=limit) or exc.reason

    async def _push(self, visitor: str, frame: dict[str, Any]) -> int:
        text = encode(frame)
        sockets = list(self._sockets.get(visitor, ()))
        results = await asyncio.gather(*(ws.send_str(text) for ws in sockets), return_exceptions=True)
        return sum(1 for r in results if not isinstance(r, BaseException))

    # --- Channel protocol ---------------------------------------------------------------

    async def deliver(self, out: Outbound) -> Delivered:
        """Push to the visitor's open sockets; an offline visitor reads it from history on reconnect."""
        match out:
            case OutboundText():
                frame = {"type": "message", "message": _outbound_view(out)}
                await self._push(out.target.external_id, frame)
                return Delivered(remote_id=str(out.message_id))
            case OutboundEdit():
                raise Undeliverable("the widget does not edit delivered messages")
            case _:
                raise Undeliverable(f"the widget cannot show {out.kind}")

    async def delivered(self, customer: ExternalRef, message_id: int) -> None:
        # "delivered" must never overtake the "sent" ack of the same message (acks wait for the
        # commit in a per-socket task, while the outbox may already have posted it to Slack)
        sessions = [self._sessions[ws] for ws in self._sockets.get(customer.external_id, ()) if ws in self._sessions]
        if sessions:
            await asyncio.wait([asyncio.ensure_future(s.acked(message_id)) for s in sessions], timeout=5.0)
        await self._push(customer.external_id, {"type": "status", "id": message_id, "status": "delivered"})


class Session:
    """One widget socket: hello first, then messages; every refused frame changes nothing."""

    def __init__(self, channel: WebChannel, ws: web.WebSocketResponse, address: str | None = None) -> None:
        self._channel = channel
        self._ws = ws
        self._address = address  # the client's (request.remote): the desk counts new conversations per address
        self._loop = asyncio.get_running_loop()  # kept: each ``get_running_loop()`` costs a getpid() syscall
        self._visitor: str | None = None
        self._source: ExternalRef | None = None  # the visitor as the engine knows them (made once, not per message)
        self._profile = Profile()
        self._sent: deque[float] = deque()  # send times within the last minute, oldest first
        self._hellos = PerMinute(HELLOS_PER_MINUTE)  # this socket's hellos, in one-minute buckets
        # Messages handed to the sink, in frame order, with the task storing each one. Frames
        # are read on while earlier ones wait for their group commit (so one socket's messages
        # share commits); acks still leave only after the commit, in frame order.
        self._pending: deque[tuple[str, asyncio.Future[Receipt]]] = deque()
        self._acker: asyncio.Task[None] | None = None
        self._acked_upto = 0  # highest message id acknowledged on this socket (ids grow in commit order)
        self._ack_batches = False  # the client takes one ``acks`` frame for messages committed together
        self._tasks = 0  # messages handed to the sink in a task and not stored yet
        self._ack_sent = asyncio.Event()
        self._choosing: asyncio.Future[None] | None = None  # a pressed choice being stored

    @property
    def ws(self) -> web.WebSocketResponse:
        return self._ws

    async def acked(self, message_id: int) -> None:
        """Return once no ack for a message up to ``message_id`` (nor a ``chosen``) is still waiting on this socket."""
        while self._pending and self._acked_upto < message_id:
            self._ack_sent.clear()
            await self._ack_sent.wait()
        if self._choosing is not None:
            await asyncio.wait([self._choosing])

    async def run(self) -> None:
        heartbeat = Heartbeat(self._ws, self._loop)
        try:
            async for msg in self._ws:
                if msg.type == WSMsgType.TEXT:
                    await self._frame(msg.data)
                elif msg.type == WSMsgType.PONG:
                    heartbeat.answered()
                elif msg.type == WSMsgType.PING:  # autoping is off (the heartbeat reads pongs): answered here
                    await self._ws.pong(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self._ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"binary frames are not supported")
        finally:
            heartbeat.stop()
            if self._acker is not None:  # the socket is gone; stored messages stay stored
                self._acker.cancel()
            for _client_id, stored in self._pending:  # nobody acks these now: their errors count as seen
                stored.add_done_callback(_retrieve)
            if self._visitor is not None:
                self._channel._detach(self._visitor, self._ws)

    async def _frame(self, raw: str) -> None:
        try:
            frame = parse_frame(raw)
            match frame:
                case Say():  # the frame a socket sends most, first; no coroutine of its own
                    if len(self._pending) >= PIPELINE:  # backpressure: wait for the oldest commit
                        await asyncio.wait([self._pending[0][1]])
                    self._say(frame)
                case SayWithFiles():
                    await self._say_with_files(frame)
                case Hello():
                    await self._hello(frame)
                case Ping():
                    await self._ws.send_str('{"type":"pong"}')
                case TranscriptRequest():
                    await self._transcript(frame)
                case Choose():
                    await self._choose(frame)
        except ProtocolError as exc:
            await self._ws.send_str(error_frame(exc.code, self._channel._reason(self._profile, exc), exc.client_id))

    async def _hello(self, hello: Hello) -> None:
        if not self._hellos.allow(self._ws):  # before any read or write: a flood of hellos must cost nothing
            raise ProtocolError("rate_limited", f"too many hellos on this socket; at most {HELLOS_PER_MINUTE} a minute")
        channel = self._channel
        now = channel._clock()
        if hello.session is None:
            token = new_token()
        else:
            token = hello.session
            if await channel._session_visitor(token) is None:
                raise ProtocolError("bad_session", "unknown or expired session; send hello with session null")
        visitor = visitor_id(token)
        self._ack_batches = hello.ack_batches
        self._profile = Profile(
            display_name=hello.name,
            locale=hello.locale or (hello.languages[0] if hello.languages else None),
            languages=hello.languages,
            page_url=hello.page_url,
            attributes={**hello.attributes, **({"email": hello.email} if hello.email else {})},
            address=self._address,
        )
        await channel._identify(_ref(visitor), self._profile, now)  # the hello renews the session
        if self._visitor is not None:
            channel._detach(self._visitor, self._ws)
        self._visitor, self._source = visitor, _ref(visitor)
        channel._attach(visitor, self)
        history = await customer_history(channel._store, _ref(visitor), after_id=hello.last_seen)
        await self._ws.send_str(
            encode(
                {
                    "type": "welcome",
                    "session": token,
                    "visitor": {"name": hello.name},
                    "messages": [_history_view(item, visitor) for item in history],
                }
            )
        )

    async def _transcript(self, request: TranscriptRequest) -> None:
        if self._channel._transcripts is None:
            raise ProtocolError("unknown_type", "this bridge does not send transcripts")
        if self._visitor is None:
            raise ProtocolError("not_authenticated", "send hello before asking for a transcript")
        self._throttle()
        frame = await transcript_frame(self._channel._transcripts, _ref(self._visitor), self._profile, request)
        await self._ws.send_str(frame)

    async def _choose(self, press: Choose) -> None:
        if self._visitor is None:
            raise ProtocolError("not_authenticated", "send hello before choosing")
        self._throttle()
        if self._pending:  # a press must not overtake the messages typed before it (a rating after "thanks")
            await asyncio.wait([stored for _client_id, stored in self._pending])
        visitor, choosing = self._visitor, self._loop.create_future()
        self._choosing = choosing  # "delivered" of the stored answer must not overtake its "chosen" (``acked``)
        try:
            frame = await chosen_frame(self._channel._sink, _ref(visitor), self._profile, press)
            await self._channel._push(visitor, frame)  # every tab of the visitor shows their answer
        finally:
            self._choosing = None
            choosing.set_result(None)

    def _throttle(self, client_id: str | None = None) -> None:
        """At most MESSAGES_PER_MINUTE messages, presses and transcript requests per socket per minute (a refused
        message is named by its ``client_id``)."""
        now = time.monotonic()
        sent = self._sent
        while sent and now - sent[0] >= 60.0:
            sent.popleft()
        if len(sent) >= MESSAGES_PER_MINUTE:
            raise ProtocolError("rate_limited", "too many messages; wait a moment", client_id)
        sent.append(now)

    async def _say_with_files(self, say: SayWithFiles) -> None:
        """A message with files, off the hot path: its upload ids must all be the visitor's own uploads (looked up
        on disk while the socket's next frames wait, so messages keep their order), else nothing is stored."""
        if self._visitor is None:
            raise ProtocolError("not_authenticated", "send hello before messages", say.client_id)
        if len(self._pending) >= PIPELINE:
            await asyncio.wait([self._pending[0][1]])
        files = await self._channel._uploads.attachments(self._visitor, say.uploads)
        if files is None:  # another visitor's upload gets this very answer: no telling it exists
            self._throttle(say.client_id)  # a refused lookup counts like a message
            raise ProtocolError("bad_frame", "an attachment is not a file you uploaded; upload it first", say.client_id)
        self._say(say, files)

    def _say(self, say: Say | SayWithFiles, files: tuple[Attachment, ...] = ()) -> None:
        if self._visitor is None or self._source is None:
            raise ProtocolError("not_authenticated", "send hello before messages", say.client_id)
        self._throttle(say.client_id)
        inbound = CustomerMessage(
            source=self._source,
            source_id=f"{self._visitor}:{say.client_id}",
            text=say.text,
            profile=self._profile,
        )
        if files:  # from ``_say_with_files`` (a message without files pays this test only)
            inbound = replace(inbound, attachments=files)
        # The socket's messages must reach the writer's queue in the order they were sent: the hot path queues
        # at once, tasks start in creation order, so the hot path is taken only while no task is in flight.
        soon = self._channel._sink_soon
        task = soon(inbound) if soon is not None and not self._tasks else None
        if task is None:
            task = self._loop.create_task(self._channel._sink(inbound))
            self._tasks += 1
            task.add_done_callback(self._task_done)
        self._pending.append((say.client_id, task))
        if self._acker is None:
            self._acker = self._loop.create_task(self._ack())

    def _task_done(self, _task: asyncio.Future[Receipt]) -> None:
        self._tasks -= 1

    async def _ack(self) -> None:
        """Acknowledge stored messages in frame order; a failed store closes the socket (the widget resends).

        Messages committed together are acknowledged together: one ``acks`` frame for a client that said
        ``ack_batches`` in its hello (one write instead of one per message), else one ``ack`` each.
        """
        pending, ws = self._pending, self._ws
        try:
            while pending:
                client_id, task = pending[0]
                if not task.done():
                    await _done(task, self._loop)
                acks = self._stored_acks()
                if acks:
                    try:
                        frame = acks[0] if len(acks) == 1 else {"type": "acks", "acks": acks}
                        await ws.send_frame(orjson.dumps(frame), WSMsgType.TEXT)
                        self._acked_upto = max(self._acked_upto, *(ack["id"] or 0 for ack in acks))
                    finally:
                        for _ in acks:  # only now: ``acked`` must not see an empty queue before the ack is out
                            pending.popleft()
                        self._ack_sent.set()
                    continue
                try:
                    if task.exception() is not None:
                        log.error("storing a widget message failed", exc_info=task.exception())
                        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"message not stored; resend it")
                        return
                    receipt = task.result()  # refused (LIMITED: by an abuse limit, bridge.abuse)
                    code = "rate_limited" if receipt.status is ReceiptStatus.LIMITED else "bad_frame"
                    refused = ProtocolError(code, receipt.reason or "message refused", client_id)
                    await ws.send_str(error_frame(code, self._channel._reason(self._profile, refused), client_id))
                finally:
                    pending.popleft()
                    self._ack_sent.set()
        except ConnectionError:  # the socket closed under us: nothing left to tell it
            pass
        finally:
            self._acker = None
            self._ack_sent.set()

    def _stored_acks(self) -> list[dict[str, Any]]:
        """The acks of the stored messages at the head of the queue (at most one without ``ack_batches``)."""
        acks: list[dict[str, Any]] = []
        limit = len(self._pending) if self._ack_batches else 1
        for client_id, task in itertools.islice(self._pending, limit):
            if not task.done() or task.exception() is not None:
                break
            receipt = task.result()
            if receipt.status is not ReceiptStatus.STORED and receipt.status is not ReceiptStatus.DUPLICATE:
                break  # refused (IGNORED, LIMITED): an error frame, not an ack
            acks.append({"type": "ack", "client_id": client_id, "id": receipt.message_id, "status": "sent"})
        return acks


def _done(task: asyncio.Future[Any], loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future that completes with ``task`` (cheaper than ``asyncio.wait``; cancelling it leaves the task alone)."""
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_task: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_result(None)

    task.add_done_callback(wake)
    return waiter


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a store task's error as seen: the acker reports the errors of the messages it reaches, this those of
    the messages left when the socket is gone."""
    if not task.cancelled():
        task.exception()


def _ref(visitor: str) -> ExternalRef:
    return ExternalRef(channel=ChannelKind.WEB, external_id=visitor)


def _outbound_view(out: OutboundText) -> dict[str, Any]:
    return {
        "id": out.message_id,
        "author": str(out.author),
        "author_name": out.author_name,
        "text": out.text,
        "created_at": out.created_at.isoformat(),
        "status": None,
        "client_id": None,
        "attachments": _file_views(out.attachments),
        **choice_views(out.choices),
    }


def _file_views(attachments: Sequence[Attachment]) -> list[dict[str, Any]]:
    """What the widget shows of files: name, type and size (a file's URL is private; ``POST /widget/file`` gives
    the bytes by message id and index)."""
    return [{"name": a.name, "media_type": a.media_type, "size": a.size} for a in attachments]


def _history_view(item: HistoryItem, visitor: str) -> dict[str, Any]:
    own = item.author == "customer"
    prefix = f"{visitor}:"
    return {
        "id": item.id,
        "author": item.author,
        "author_name": item.author_name,
        "text": item.text,
        "created_at": item.created_at.isoformat(),
        "status": ("delivered" if item.delivered else "sent") if own else None,
        "client_id": item.source_id.removeprefix(prefix) if own and item.source_id.startswith(prefix) else None,
        "attachments": _file_views(item.attachments),
        **choice_views(item.choices),
    }

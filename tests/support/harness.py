"""A running bridge wired to the loopback Slack emulator, on 127.0.0.1, for scenario tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from bridge.app import BRIDGE, Bridge, build_app
from bridge.config import Settings, SlackSettings, TelegramSettings
from bridge.hours import BusinessHours
from bridge.model import utcnow
from bridge.sandbox import telegram as telegram_sandbox
from bridge.sandbox.slack import SlackEmulator
from bridge.sandbox.telegram import TelegramEmulator
from bridge.schema import upgrade

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
SUPPORT = "C0SUPPORT"
STOP_GRACE = 2.0  # seconds a stopping test server waits for requests in flight (see bridge.app.SHUTDOWN_GRACE)
TELEGRAM_TOKEN = "123456:SANDBOX"
TELEGRAM_SECRET = "scenario-secret"


@dataclass
class Harness:
    """The bridge server, the Slack emulator and helpers to act as a widget visitor."""

    server: TestServer
    slack: SlackEmulator
    slack_server: TestServer
    settings: Settings
    telegram: TelegramEmulator | None = None

    @property
    def bridge(self) -> Bridge:
        return self.server.app[BRIDGE]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def settled(self) -> None:
        """Wait until every delivery is sent (or dead): the outbox has recorded every remote id."""
        for _ in range(500):
            row = await self.bridge.store.fetch_one(sa.text("SELECT count(*) FROM delivery WHERE status = 'pending'"))
            if row is not None and row[0] == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("deliveries still pending")

    @asynccontextmanager
    async def widget(self, *, from_address: str = "127.0.0.1", **hello: Any) -> AsyncIterator[Widget]:
        """A widget visitor after its hello, connecting from ``from_address`` (any 127.0.0.0/8 address)."""
        connector = aiohttp.TCPConnector(local_addr=(from_address, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            ws = await session.ws_connect(self.url("/widget/ws"), headers={"Origin": self.origin})
            widget = Widget(ws)
            await widget.send({"type": "hello", "session": None, "last_seen": 0, **hello})
            widget.welcome = await widget.expect("welcome")
            try:
                yield widget
            finally:
                await ws.close()


class Widget:
    """A widget visitor's socket: send frames, wait for frames of a type."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}
        self.seen: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(frame).decode())

    async def expect(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The next frame of type ``kind`` (earlier frames of other types are kept in ``seen``)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket ended while waiting for {kind}: {msg.type} {msg.data!r}")
                frame = orjson.loads(msg.data)
                self.seen.append(frame)
                if frame["type"] == kind:
                    return dict(frame)

    async def expect_any(self, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The next text frame, whatever its type."""
        async with asyncio.timeout(timeout):
            msg = await self.ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"socket ended: {msg.type} {msg.data!r}")
        frame = dict(orjson.loads(msg.data))
        self.seen.append(frame)
        return frame

    async def say(self, text: str, client_id: str) -> dict[str, Any]:
        await self.send({"type": "message", "client_id": client_id, "text": text})
        return await self.expect("ack")


def test_settings(database_url: str, slack_api_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        allowed_origins=(),
        slack=SlackSettings(
            bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, support_channel=SUPPORT, api_url=slack_api_url
        ),
    )


@asynccontextmanager
async def running_slack() -> AsyncIterator[tuple[SlackEmulator, TestServer]]:
    slack = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, support_channel=SUPPORT)
    server = TestServer(slack.app, host="127.0.0.1")
    await server.start_server(shutdown_timeout=STOP_GRACE)
    try:
        yield slack, server
    finally:
        await stop_server(server)


@asynccontextmanager
async def running_bridge(
    database_url: str,
    tmp_path: Path,
    slack: SlackEmulator,
    slack_server: TestServer,
    *,
    demo_page: str | None = None,
    telegram: TelegramSettings | None = None,
    locales_dir: Path | None = None,
    greeting: bool = False,
    hours: BusinessHours | None = None,
    clock: Callable[[], datetime] = utcnow,
    public: bool = False,
    agent_group: str | None = None,
    faq: bool = False,
    retention_days: int | None = None,
    new_conversations_per_ip: int = 0,
    trusted_proxies: tuple[str, ...] = (),
    extra_origins: tuple[str, ...] = (),
    slack_catch_up_every: timedelta | None = None,
    socket_mode: bool = False,
) -> AsyncIterator[Harness]:
    """Migrate, start the bridge on a free port, allow its own origin, point the emulator at it.

    The automatic greeting is off unless asked for (tests marked ``greeting``), and so is the FAQ bot (``faq``),
    so the other tests see exactly the messages they send. Every test visitor comes from 127.0.0.1, so the limit
    of new conversations per client address is off unless ``new_conversations_per_ip`` sets it (as the bench's).

    With ``telegram`` the Telegram channel is on; its public URL is the bridge's own, so in webhook
    mode the bridge registers ``/telegram/webhook`` with ``setWebhook`` as it starts. ``public`` sets
    that public URL without Telegram (links the bridge gives out, e.g. App Home's chart). ``agent_group`` is
    ``SWITCHBOARD_SLACK_AGENT_GROUP`` (define its members in ``slack.usergroups``). ``slack_catch_up_every``
    replaces ``SWITCHBOARD_SLACK_CATCH_UP_MINUTES`` (the Slack threads are read at start, then this often).
    ``socket_mode`` gives the bridge the emulator's app token (``SLACK_APP_TOKEN``) and no ``events_url``: everything
    reaches it over Socket Mode.
    """
    await upgrade(database_url)
    settings = test_settings(database_url, str(slack_server.make_url("/api/")), tmp_path)
    port = _free_port()
    origins = (f"http://127.0.0.1:{port}", *extra_origins)  # ``extra_origins``: other sites embedding the widget
    settings = replace(settings, allowed_origins=origins, telegram=telegram, greeting=greeting)
    settings = replace(settings, hours=hours, slack=replace(settings.slack, agent_group=agent_group), faq=faq)
    settings = replace(settings, retention_days=retention_days, new_conversations_per_ip=new_conversations_per_ip)
    settings = replace(settings, trusted_proxies=tuple(ip_network(proxy) for proxy in trusted_proxies))
    if slack_catch_up_every is not None:
        settings = replace(settings, slack=replace(settings.slack, catch_up_every=slack_catch_up_every))
    if socket_mode:
        settings = replace(settings, slack=replace(settings.slack, app_token=slack.socket_mode.app_token))
    if locales_dir is not None:
        settings = replace(settings, locales_dir=locales_dir)
    if telegram is not None or public:
        settings = replace(settings, public_url=f"http://127.0.0.1:{port}")
    server = TestServer(build_app(settings, demo_page=demo_page, clock=clock), host="127.0.0.1", port=port)
    await server.start_server(shutdown_timeout=STOP_GRACE)
    if not socket_mode:
        slack.events_url = str(server.make_url("/slack/events"))
    try:
        yield Harness(server=server, slack=slack, slack_server=slack_server, settings=settings)
    finally:
        watchdog = asyncio.get_running_loop().call_later(STOP_GRACE + 3.0, _report_stuck_tasks)
        try:
            await stop_server(server)
        finally:
            watchdog.cancel()


async def stop_server(server: TestServer) -> None:
    """Close ``server``, then any connection it accepted while closing. aiohttp's shutdown closes the connections
    registered when it starts; one whose connect was already in the kernel's backlog registers a loop iteration or
    two later and would stay open, its socket then warned about (``ResourceWarning``) in whichever later test
    happens to collect it."""
    web_server = server.runner.server if server.runner is not None else None
    await server.close()
    if web_server is None:
        return
    for _ in range(3):
        await asyncio.sleep(0)
    for handler in web_server.connections:
        handler.force_close()
    await asyncio.sleep(0)  # the closed transports let go of their sockets


def _report_stuck_tasks() -> None:
    """The bridge takes longer to stop than its grace for requests in flight: write down what still runs, in
    test-output/ (pytest hides a passing test's output)."""
    out = Path(__file__).resolve().parents[2] / "test-output"
    out.mkdir(exist_ok=True)
    with (out / "slow-bridge-shutdown.txt").open("a") as report:
        print(f"--- {datetime.now(UTC):%H:%M:%S} bridge shutdown is slow; running tasks:", file=report)
        for task in asyncio.all_tasks():
            task.print_stack(limit=8, file=report)


@asynccontextmanager
async def running_telegram_bridge(
    database_url: str, tmp_path: Path, mode: str, *, greeting: bool = False, faq: bool = False
) -> AsyncIterator[Harness]:
    """Slack and Telegram emulators and a bridge with its Telegram channel in ``mode`` (webhook/polling)."""
    emulator = TelegramEmulator(token=TELEGRAM_TOKEN, webhook_retry_delays=(0.05,))
    async with telegram_sandbox.serve(emulator) as tg_url, running_slack() as (slack, slack_server):
        settings = TelegramSettings(
            bot_token=TELEGRAM_TOKEN,
            mode=mode,
            webhook_secret=TELEGRAM_SECRET,
            api_url=f"{tg_url}/bot",
            file_url=f"{tg_url}/file/bot",
        )
        async with running_bridge(
            database_url, tmp_path, slack, slack_server, telegram=settings, greeting=greeting, faq=faq
        ) as h:
            h.telegram = emulator
            yield h


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

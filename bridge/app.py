"""This module contains the aiohttp Application assembly and the lifecycle of every part."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bridge.abuse import Limits
from bridge.active_threads import ActiveThreads
from bridge.announce import Announcements
from bridge.attachments import Fetchers
from bridge.canned import CannedService
from bridge.chart import DailyChart
from bridge.config import Settings
from bridge.desk import Desk
from bridge.engine import Engine
from bridge.events import ChannelKind
from bridge.faq import Keywords
from bridge.greeting import CustomerTexts
from bridge.i18n import Catalogs
from bridge.metrics import Metrics
from bridge.model import utcnow
from bridge.outbox import Outbox
from bridge.ports import Channel
from bridge.redaction import redact_logs
from bridge.retention import Retention
from bridge.serve_lock import ServeLock
from bridge.stats import Stats
from bridge.store import Store
from bridge.transcript import Transcripts
from bridge.upload_files import SCHEME as UPLOAD_SCHEME
from bridge.upload_files import UploadFiles

log = logging.getLogger("switchboard.app")

MAX_BODY = 1024 * 1024


@dataclass(slots=True)
class Bridge:
    """Everything a running bridge holds; tests reach the parts through ``app[BRIDGE]``."""

    settings: Settings
    store: Store
    engine: Engine
    catalogs: Catalogs
    channels: dict[ChannelKind, Channel]
    outbox: Outbox
    retention: Retention | None = None  # SWITCHBOARD_RETENTION_DAYS: old resolved conversations are deleted


BRIDGE = web.AppKey("bridge", Bridge)


def build_app(
    settings: Settings, *, demo_page: str | None = None, clock: Callable[[], datetime] = utcnow
) -> web.Application:
    """Assemble the bridge: store, engine, channels (by name, as enabled), outbox and routes."""
    redact_logs()  # card numbers are masked in every log record (the libraries' too)
    store = Store(settings.database_url)
    catalogs = Catalogs(settings.locales_dir, default_locale=settings.default_locale)
    # The greeting, the offline notice, error reasons and language choice, per locale.
    customer_texts = CustomerTexts(catalogs, store, greeting=settings.greeting, hours=settings.hours, clock=clock)
    engine = Engine(
        store, negotiate=catalogs.negotiate, default_locale=settings.default_locale, on_open=customer_texts.on_open
    )
    channels: dict[ChannelKind, Channel] = {}
    fetchers = Fetchers()  # channels whose platform hosts files register here; Slack uploads them into threads
    uploads = UploadFiles.in_data_folder(settings.data_dir)  # files widget visitors send (POST /widget/upload)
    fetchers.register(UPLOAD_SCHEME, uploads.fetch)
    slack_module = importlib.import_module("channels.slack")
    canned = CannedService(store=store, engine=engine, catalogs=catalogs)
    # Customers' messages pass the desk on their way to the engine: routing, CSAT answers, reopening.
    # The FAQ bot (SWITCHBOARD_FAQ): canned answers with a keyword list answer before an agent joins.
    faq_keywords = Keywords(catalogs) if settings.faq else None
    desk = Desk(
        store=store,
        engine=engine,
        catalogs=catalogs,
        urgent_keywords=settings.urgent_keywords,
        hours=settings.hours,
        faq_keywords=faq_keywords,
        # Abuse limits (bridge.abuse): new conversations per client address in 12 h, messages per conversation a
        # minute; per process, in memory.
        limits=Limits(new_conversations_per_ip=settings.new_conversations_per_ip),
    )
    # App Home's chart image, at a signed link Slack can fetch when SWITCHBOARD_PUBLIC_URL is set.
    chart = DailyChart(store, secret=settings.slack.signing_secret, public_url=settings.public_url)
    # Transcripts: the widget's download, Telegram /transcript and the card's Export, times in the business zone.
    transcripts = Transcripts(store, catalogs, time_zone=settings.hours.timezone if settings.hours else "UTC")
    channels[ChannelKind.SLACK] = slack_module.SlackChannel(
        settings=settings.slack,
        sink=engine.receive,
        fetchers=fetchers,
        canned=canned,
        stats=Stats(store),
        desk=desk,
        transcripts=transcripts,
        chart=chart,
        announcements=Announcements(store=store, canned=canned),  # /announce: a catalog text to every open chat
        threads=ActiveThreads(store, clock=clock),  # read for agents' replies whose Slack event never came
    )
    web_module = importlib.import_module("channels.web")
    channels[ChannelKind.WEB] = web_module.WebChannel(
        sink=desk.receive,
        sink_soon=desk.receive_soon,
        store=store,
        identify=engine.identify,
        uploads=uploads,
        fetchers=fetchers,  # POST /widget/file: the bytes of the conversation's files
        allowed_origins=settings.allowed_origins,
        widget_bundle=catalogs.widget_bundle,
        demo_page=demo_page,
        error_reason=customer_texts.error_reason,
        transcripts=transcripts,
        trusted_proxies=settings.trusted_proxies,
        session_days=settings.session_days,  # a session unused this long expires (by ``clock``)
        clock=clock,
    )
    if settings.telegram is not None:
        telegram_module = importlib.import_module("channels.telegram")
        webhook_url = f"{settings.public_url.rstrip('/')}/telegram/webhook" if settings.public_url else None
        channels[ChannelKind.TELEGRAM] = telegram_module.TelegramChannel(
            settings=settings.telegram,
            sink=desk.receive,
            webhook_url=webhook_url,
            fetchers=fetchers,
            customer_texts=customer_texts,
            transcripts=transcripts,
        )
    outbox = Outbox(store, channels, support_channel=settings.slack.support_channel, sink=engine.receive)
    bridge = Bridge(settings, store, engine, catalogs, channels, outbox)
    if settings.retention_days is not None:
        bridge.retention = Retention(
            store, days=settings.retention_days, clock=clock, forget=engine.forget_conversations, files=uploads
        )

    app = web.Application(client_max_size=MAX_BODY, middlewares=[_errors_as_json])
    app[BRIDGE] = bridge
    app.router.add_get("/healthz", _healthz)
    app.router.add_routes(Metrics(store, outbox).routes())
    app.router.add_routes(chart.routes())
    for channel in channels.values():
        app.router.add_routes(channel.routes())
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_close_connections)
    return app


async def _close_connections(app: web.Application) -> None:
    """On shutdown, before aiohttp waits (up to a minute) for open handlers: close long-lived connections."""
    for channel in app[BRIDGE].channels.values():
        close = getattr(channel, "close_connections", None)  # the web channel's sockets; others have none
        if close is not None:
            await close()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Start store, channels and outbox in order; stop them in reverse (outbox drains first)."""
    bridge = app[BRIDGE]
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(bridge.store)
        await stack.enter_async_context(ServeLock(bridge.store.engine))  # before anything posts: one bridge a database
        for channel in bridge.channels.values():
            await stack.enter_async_context(channel)
        await stack.enter_async_context(bridge.outbox)
        if bridge.retention is not None:
            await stack.enter_async_context(bridge.retention)
        log.info("bridge started with channels: %s", ", ".join(sorted(bridge.channels)))
        yield


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "channels": sorted(request.app[BRIDGE].channels)})


@web.middleware
async def _errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Clients get a short reason, never a traceback; unexpected errors are logged and 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return web.json_response(
            {"error": exc.reason},
            status=exc.status,
            headers={"Allow": exc.headers.get("Allow", "")} if exc.status == 405 else None,
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)


def _tune_gc() -> None:
    """Keep the collector off the hot path: everything alive after startup (modules, tables,
    compiled statements) is frozen out of collections, and young collections run every 200,000
    allocations instead of 700 (each in-flight message allocates a few dozen objects, and a young
    collection walks every one still in flight: at 20,000 the collector took 8% of the server's CPU,
    at 200,000 under 1%; a collection then finds at most a few tens of MB of garbage cycles).
    Measured with bench/widget_load.py: 700 -> 20,000: ~16,000 -> ~19,000 msgs/s (first machine);
    20,000 -> 200,000: 7,700 -> 8,800 msgs/s (a slower machine, same day)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)


SHUTDOWN_GRACE = 3.0
"""Seconds requests in flight get to finish on stop (aiohttp's default is 60; a keep-alive connection that a
client reuses just as the server stops can otherwise hold the whole stop for that long). Then the outbox gets
``outbox.STOP_GRACE`` and Slack's background work ``background.GRACE``: 3 + 4 + 2 s, so a stop never takes more
than 9 s plus the final commit (reliability target C12: within 10 s; ``tests/crash/test_sigterm_drains.py``
checks the sum)."""


async def serve(apps: list[tuple[web.Application, str, int]], on_ready: Callable[[], None] | None = None) -> None:
    """Run aiohttp apps on their host/port until SIGINT or SIGTERM, then clean up in reverse order."""
    runners: list[web.AppRunner] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for app, host, port in apps:
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, host, port).start()
        _tune_gc()
        if on_ready is not None:
            on_ready()
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

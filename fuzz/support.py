"""This module contains what the atheris targets share: the contract check, header bytes, a loopback server."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from aiohttp import web

from bridge.events import Inbound, Receipt, ReceiptStatus

T = TypeVar("T")


class ContractBroken(AssertionError):
    """A target saw an outcome its code does not document (atheris reports it as a crash, with this message)."""


def check(condition: bool, message: str) -> None:
    """Raise ``ContractBroken(message)`` unless ``condition``: unlike ``assert``, it survives ``python -O``."""
    if not condition:
        raise ContractBroken(message)


def header_value(raw: bytes) -> bytes:
    """``raw`` as a header value aiohttp's parser accepts: no control characters, no surrounding blanks.

    The parser decodes what is left as UTF-8 with ``surrogateescape``: invalid UTF-8 reaches the handler as lone
    surrogates (``\\xff`` -> ``\\udcff``), which ``str.encode()`` and ``hmac.compare_digest`` refuse.
    """
    return bytes(b for b in raw if b >= 0x20 and b != 0x7F).strip(b" \t")


def min_seconds(function: Callable[[str], object], text: str, repeats: int = 3) -> float:
    """The fastest of ``repeats`` calls of ``function(text)``: one slow call can be the machine, three cannot."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function(text)
        best = min(best, time.perf_counter() - started)
    return best


def check_linear(name: str, function: Callable[[str], object], text: str, *, size: int = 2048) -> None:
    """``function`` takes linear time on ``text`` repeated to ``size`` characters (checked on one input in four).

    Repeating the input is what turns a quadratic scan into seconds (``<<<<...``, ``1 1 1 1 ...``). When the long
    text takes a millisecond or more, it is timed against the text an eighth as long (the fastest of three runs
    each, in up to three rounds, so a busy machine does not count): linear code takes about 8 times as long,
    quadratic code 64 times; more than 24 times fails. A ratio, not a budget: instrumentation slows both alike.
    """
    if not text or zlib.crc32(text.encode("utf-8", "surrogatepass")) % 4:  # the same ones on a replay
        return
    big = (text * (size // len(text) + 1))[:size]
    if min_seconds(function, big, repeats=1) < 0.001:
        return
    small = big[: size // 8]
    for _ in range(3):  # a busy machine can slow one round; a quadratic function fails every one
        base, took = max(min_seconds(function, small), 100e-6), min_seconds(function, big)
        if took <= 24 * base:
            return
    check(False, f"{name}: {took * 1000:.1f} ms on {size} characters, {base * 1000:.2f} ms on {size // 8}")


class ErrorRecords(logging.Handler):
    """Keeps the ERROR records of the loggers it is attached to, with their tracebacks, for the contract check."""

    def __init__(self, *names: str) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        for name in names:
            logging.getLogger(name).addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))

    def take(self) -> list[str]:
        taken, self.records = self.records, []
        return taken


class Loopback:
    """An aiohttp app on 127.0.0.1 in a private event loop, and a raw keep-alive HTTP/1.1 client for it.

    The client writes bytes as given, so requests carry what aiohttp's own parser accepts and nothing a client
    library would have cleaned up; the handler sees them exactly as in production.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    async def serve_routes(self, routes: Iterable[web.AbstractRouteDef]) -> None:
        """Serve a channel's routes (bodies up to 1 MiB), as the bridge's app does."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_routes(routes)
        await self.serve(app)

    async def serve(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def post(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
        """POST ``body`` with ``headers`` (Content-Length is added); returns the status and the response body."""
        head = [b"POST " + path.encode() + b" HTTP/1.1", b"Host: 127.0.0.1", b"Content-Length: %d" % len(body)]
        head += [name + b": " + value for name, value in headers]
        request = b"\r\n".join(head) + b"\r\n\r\n" + body
        for attempt in (1, 2):  # a connection the server closed after its previous answer is opened again
            if self._streams is None:
                self._streams = await asyncio.open_connection("127.0.0.1", self._port)
            reader, writer = self._streams
            try:
                writer.write(request)
                await writer.drain()
                return await self._response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self._close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0"):
            await self._close()
        return status, body

    async def _close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def stored(_inbound: Inbound) -> Receipt:
    """The route targets' sink: every record counts as stored (what they fuzz is the route, not the database)."""
    return Receipt(status=ReceiptStatus.STORED)

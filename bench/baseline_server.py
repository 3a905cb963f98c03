"""Minimal widget servers for ``bench.baselines``: the ceilings DESIGN.md's "Baselines" table names.

Each speaks just enough of the widget protocol for ``bench.widget_load``'s client, on aiohttp + uvloop +
orjson: ``GET /healthz``; ``/widget/ws`` answers ``hello`` with ``welcome`` and acks every ``message``
frame (``{"type": "ack", "client_id", "id", "status": "sent"}``; one ``acks`` frame per socket and commit
when the hello said ``ack_batches``). No engine, no ORM, no rate limit, no origin check.

* ``echo``: acks each message at once; nothing is stored.
* ``sqlite``: one row per message in a SQLite file (WAL, ``synchronous=FULL``, one connection) written by
  ONE dedicated thread doing group commit: it takes everything queued, inserts it in one transaction,
  commits, hands the batch to the loop to ack, and takes the next batch at once (no fixed window).
* ``postgresql``: the same group commit with asyncpg on one connection: each batch is one multi-row
  ``INSERT ... SELECT FROM unnest(...)`` in its own (auto-committed) transaction, one round trip.

Run by ``bench/baselines.py`` (``python -m bench.baseline_server --mode M --port P [--db PATH_OR_DSN]``);
it prints ``ready`` once listening and stops cleanly on SIGTERM/SIGINT. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import queue
import signal
import sqlite3
import sys
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import uvloop
from aiohttp import WSMsgType, web

MODES = ("echo", "sqlite", "postgresql")
TABLE = "message"
SQLITE_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, session TEXT NOT NULL, client_id TEXT NOT NULL, "
    "body TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (session, client_id))"
)
PG_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGSERIAL PRIMARY KEY, session TEXT NOT NULL, client_id TEXT NOT NULL, "
    "body TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (session, client_id))"
)
# One writer, so the sequence hands out ids in row order: sorted ids match the rows positionally.
PG_INSERT = (
    f"WITH ins AS (INSERT INTO {TABLE} (session, client_id, body, created_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) RETURNING id) "
    "SELECT array_agg(id ORDER BY id) FROM ins"
)
SQLITE_CACHE_KIB = 64 * 1024  # the product's page cache (bridge/store.py)


class Sock:
    """One widget socket: its session and whether it takes ``acks`` frames."""

    __slots__ = ("ws", "session", "ack_batches")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.session: str | None = None
        self.ack_batches = False

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_frame(orjson.dumps(frame), WSMsgType.TEXT)


# An entry waiting for its commit: the socket, the client id, and the row (session, client_id, body, created_at).
Entry = tuple[Sock, str, tuple[str, str, str, str]]


class Acker:
    """Sends the acks of committed batches, in commit order, from one task on the loop."""

    def __init__(self) -> None:
        self.committed: asyncio.Queue[tuple[list[Entry], Sequence[int]] | BaseException] = asyncio.Queue()
        self.failed: BaseException | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while True:
            item = await self.committed.get()
            if isinstance(item, BaseException):
                self.failed = item
                stop.set()
                return
            batch, ids = item
            per_socket: dict[Sock, list[dict[str, Any]]] = {}
            for (sock, client_id, _row), message_id in zip(batch, ids, strict=True):
                acks = per_socket.get(sock)
                if acks is None:
                    acks = per_socket[sock] = []
                acks.append({"type": "ack", "client_id": client_id, "id": message_id, "status": "sent"})
            for sock, acks in per_socket.items():
                if sock.ws.closed:
                    continue
                with contextlib.suppress(ConnectionError):
                    if sock.ack_batches and len(acks) > 1:
                        await sock.send({"type": "acks", "acks": acks})
                    else:
                        for ack in acks:
                            await sock.send(ack)


class SqliteWriter:
    """Group commit on one blocking sqlite3 connection in a dedicated thread."""

    def __init__(self, path: str, acker: Acker) -> None:
        self.path = path
        self.acker = acker
        self.inbox: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None

    def submit(self, entry: Entry) -> None:
        self.inbox.put(entry)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self.thread = threading.Thread(target=self._run, args=(loop, ready), name="sqlite-writer", daemon=True)
        self.thread.start()
        await ready

    async def stop(self) -> None:
        self.inbox.put(None)
        if self.thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.thread.join)

    def _run(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        deliver = self.acker.committed.put_nowait
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except BaseException as exc:
            loop.call_soon_threadsafe(ready.set_exception, exc)
            return
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            db.execute(SQLITE_SCHEMA)
            next_id = db.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {TABLE}").fetchone()[0]
            insert = f"INSERT INTO {TABLE} (session, client_id, body, created_at) VALUES (?, ?, ?, ?)"
            last = f"SELECT max(id) FROM {TABLE}"
            loop.call_soon_threadsafe(ready.set_result, None)
            inbox, empty = self.inbox, queue.Empty
            stopping = False
            while not stopping:
                first = inbox.get()
                if first is None:
                    break
                batch = [first]
                while True:  # everything queued now: the group
                    try:
                        entry = inbox.get_nowait()
                    except empty:
                        break
                    if entry is None:
                        stopping = True
                        break
                    batch.append(entry)
                db.execute("BEGIN")
                try:
                    db.executemany(insert, [row for _sock, _client_id, row in batch])
                    top = db.execute(last).fetchone()[0]
                    if top != next_id + len(batch) - 1:  # rowids of a single writer are consecutive
                        raise RuntimeError(f"rowids {next_id}.. for {len(batch)} rows, but max(id) is {top}")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                loop.call_soon_threadsafe(deliver, (batch, range(next_id, next_id + len(batch))))
                next_id += len(batch)
        except BaseException as exc:
            traceback.print_exc()
            if not ready.done():
                loop.call_soon_threadsafe(ready.set_exception, exc)
            else:
                loop.call_soon_threadsafe(deliver, exc)
        finally:
            db.close()


class PostgresWriter:
    """Group commit with asyncpg on one connection, on the loop: one round trip per batch."""

    def __init__(self, dsn: str, acker: Acker) -> None:
        self.dsn = dsn
        self.acker = acker
        self.pending: deque[Entry] = deque()
        self.wake = asyncio.Event()
        self.conn: Any = None
        self.task: asyncio.Task[None] | None = None

    def submit(self, entry: Entry) -> None:
        self.pending.append(entry)
        if not self.wake.is_set():
            self.wake.set()

    async def start(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(self.dsn)
        await self.conn.execute(PG_SCHEMA)
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.conn is not None:
            await self.conn.close()

    async def _run(self) -> None:
        pending, deliver = self.pending, self.acker.committed.put_nowait
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while pending:
                    batch = list(pending)
                    pending.clear()
                    columns = list(zip(*(row for _sock, _client_id, row in batch), strict=True))
                    ids = await self.conn.fetchval(PG_INSERT, *columns)
                    deliver((batch, ids))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            traceback.print_exc()
            deliver(exc)


Writer = SqliteWriter | PostgresWriter


class Widget:
    """``/widget/ws``: hello -> welcome; each message goes to the writer (or is acked at once: echo)."""

    def __init__(self, writer: Writer | None) -> None:
        self.writer = writer
        self.echo_ids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        writer, sock = self.writer, Sock(ws)
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            frame = orjson.loads(msg.data)
            kind = frame.get("type")
            if kind == "message" and sock.session is not None:
                client_id = frame["client_id"]
                if writer is None:  # echo: ack at once
                    message_id = next(self.echo_ids)
                    await sock.send({"type": "ack", "client_id": client_id, "id": message_id, "status": "sent"})
                else:
                    created_at = datetime.now(UTC).isoformat()
                    writer.submit((sock, client_id, (sock.session, client_id, frame["text"], created_at)))
            elif kind == "hello":
                sock.session = frame.get("session") or uuid.uuid4().hex
                sock.ack_batches = frame.get("ack_batches") is True
                welcome = {"type": "welcome", "session": sock.session, "visitor": {"name": frame.get("name")}}
                await sock.send({**welcome, "messages": []})
            else:
                await sock.send({"type": "error", "code": "not_authenticated" if kind == "message" else "unknown_type"})
        return ws


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def serve(mode: str, port: int, db: str | None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    acker = Acker()
    writer: Writer | None = None
    if mode == "sqlite":
        assert db is not None
        writer = SqliteWriter(db, acker)
    elif mode == "postgresql":
        assert db is not None
        writer = PostgresWriter(db, acker)
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/widget/ws", Widget(writer).handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    acking = asyncio.create_task(acker.run(stop))
    try:
        if writer is not None:
            await writer.start()
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        print("ready", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        if writer is not None:
            await writer.stop()
        acking.cancel()
        await asyncio.gather(acking, return_exceptions=True)
    if acker.failed is not None:
        print(f"writer failed: {acker.failed!r}", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.baseline_server", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", help="sqlite: the database file; postgresql: an asyncpg DSN")
    args = parser.parse_args(argv)
    if args.mode != "echo" and not args.db:
        parser.error(f"--mode {args.mode} needs --db")
    return uvloop.run(serve(args.mode, args.port, args.db))


if __name__ == "__main__":
    sys.exit(main())

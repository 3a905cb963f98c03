"""This module contains the Store: database engine setup, the group-commit writer and the queries."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bridge.clock import TickClock
from bridge.model import Delivery, Message

log = logging.getLogger("switchboard.store")

T = TypeVar("T")
Job = Callable[[AsyncConnection], Awaitable[T]]
Lanes = frozenset[tuple[int, str]] | None
"""What a commit touched: the (conversation id, target channel) of new deliveries, or None for "anything"."""
CommitListener = Callable[[Lanes], None]

MAX_BATCH = 2048  # messages per group commit (bigger batches measured faster: 512 -> ~19,500, 2048 -> ~21,000 msgs/s)
MAX_PARAMETERS = 30_000  # per statement: under SQLite's 32,766 bound variables and asyncpg's 32,767 arguments


def default_sqlite_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in the data folder."""
    return f"sqlite+aiosqlite:///{(data_dir / 'switchboard.db').resolve()}"


def normalise_url(url: str) -> str:
    """Accept plain ``sqlite://`` / ``postgresql://`` URLs and pick the async drivers."""
    parsed = make_url(url)
    driver = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, synchronous=FULL, foreign keys and a busy timeout."""
    engine = create_async_engine(normalise_url(url), pool_pre_ping=False, json_serializer=_json_dumps)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=15000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class Outcome(Protocol):
    """Told, on the event loop, how the group commit of a queued message went."""

    def stored(self, message_id: int | None) -> None:
        """Committed: the message's id, or None for a duplicate (its deliveries were not inserted either)."""

    def failed(self, exc: BaseException) -> None:
        """The batch failed as a whole: nothing of it is stored."""


@dataclass(slots=True)
class Awaited:
    """The ``Outcome`` of ``submit_message``: its future."""

    future: asyncio.Future[int | None]

    def stored(self, message_id: int | None) -> None:
        if not self.future.done():
            self.future.set_result(message_id)

    def failed(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


@dataclass(slots=True)
class PendingMessage:
    """A message row and its delivery rows, prepared, waiting for the next group commit."""

    key: tuple[str, str]  # the message's (source_channel, source_id): how its ``RETURNING`` row finds it
    prepared: Prepared  # the message row, ready for ``BulkInsert``
    prepared_deliveries: list[Prepared]
    lanes: list[tuple[int, str]]  # each delivery's (conversation id, target channel), for the commit listener
    outcome: Outcome


@dataclass(slots=True)
class PendingSent:
    """A delivery to mark as sent; marks share one transaction per flush."""

    values: dict[str, Any]
    future: asyncio.Future[None]


@dataclass(slots=True)
class PendingJob:
    job: Job[Any]
    future: asyncio.Future[Any]


class GroupCommitWriter:
    """The single writer of a database: gathers whatever is queued into one transaction.

    It flushes as soon as it is free (no fixed window), so latency stays low when idle and
    throughput grows with load. Messages are inserted with Core, deduplicated by the
    ``(source_channel, source_id)`` unique constraint (never check-then-insert); their
    deliveries are inserted in the same transaction. Other write jobs run one transaction
    each, in submission order, on the same connection.
    """

    def __init__(self, engine: AsyncEngine, on_commit: CommitListener | None = None) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._queue: deque[PendingMessage | PendingJob] = deque()
        self._sent: list[PendingSent] = []
        table = Delivery.__table__  # type: ignore[attr-defined]
        self._mark_sent = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("delivery_id"))
            .values(status="sent", remote_id=sa.bindparam("remote"), sent_at=sa.bindparam("at"))
        )
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        dialect = engine.dialect
        times = SqliteTimeText() if dialect.name == "sqlite" else None  # shared: a message and its deliveries
        self._insert_messages = BulkInsert(
            Message.__table__,  # type: ignore[arg-type]
            dialect,
            "ON CONFLICT (source_channel, source_id) DO NOTHING RETURNING id, source_channel, source_id",
            times=times,
        )
        self._insert_deliveries = BulkInsert(
            Delivery.__table__,  # type: ignore[arg-type]
            dialect,
            "ON CONFLICT (idempotency_key) DO NOTHING",
            extra=("message_id", "idempotency_key"),
            times=times,
        )
        self._thread = (
            SqliteBatchThread(engine.url, self._insert_messages, self._insert_deliveries)
            if dialect.name == "sqlite"
            else None
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="switchboard-writer")

    async def close(self) -> None:
        """Flush what is queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._thread is not None:
            await self._thread.close()

    def submit_message(self, message: dict[str, Any], deliveries: list[dict[str, Any]]) -> asyncio.Future[int | None]:
        """Queue a message; the future gives its id once committed, or None for a duplicate.

        ``deliveries`` are Delivery rows without ``message_id`` and ``idempotency_key``: the writer adds both.
        """
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.queue_message(message, deliveries, Awaited(future))
        return future

    def queue_message(self, message: dict[str, Any], deliveries: list[dict[str, Any]], outcome: Outcome) -> None:
        """``submit_message`` for the hot path: ``outcome`` is told right in the commit's callback, without a
        future and the extra trip through the event loop that its done-callbacks take."""
        key = (message["source_channel"], message["source_id"])
        prepared = self._insert_messages.prepare(message)
        prepared_deliveries = [self._insert_deliveries.prepare(d) for d in deliveries]
        self.queue(PendingMessage(key, prepared, prepared_deliveries, _lanes(deliveries), outcome))

    def queue(self, pending: PendingMessage) -> None:
        """Queue a prepared message (``queue_message``, or ``MessageShape.pending`` on the hot path)."""
        self._queue.append(pending)
        self._wakeup.set()

    def shape(self, message: dict[str, Any], deliveries: list[dict[str, Any]]) -> MessageShape:
        """The ``MessageShape`` of messages like ``message`` (with deliveries like ``deliveries``)."""
        return MessageShape(self._insert_messages, self._insert_deliveries, message, deliveries)

    def submit_job(self, job: Job[T]) -> asyncio.Future[T]:
        """Queue ``job``; the future gives its result once its transaction is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(PendingJob(job, future))
        self._wakeup.set()
        return future

    def submit_sent(self, delivery_id: int, remote_id: str, sent_at: Any) -> asyncio.Future[None]:
        """Queue a "sent" mark; marks of one flush share a transaction (one fsync, not one per delivery)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sent.append(PendingSent({"delivery_id": delivery_id, "remote": remote_id, "at": sent_at}, future))
        self._wakeup.set()
        return future

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in its own transaction on the writer connection and return its result."""
        return await self.submit_job(job)

    async def _run(self) -> None:
        async with self._engine.connect() as conn:
            while True:
                if not self._queue and not self._sent:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                if self._sent:
                    sent, self._sent = self._sent, []
                    await self._commit_sent(conn, sent)
                if not self._queue:
                    continue
                if isinstance(self._queue[0], PendingJob):
                    await self._commit_job(conn, self._queue.popleft())
                elif self._thread is not None:
                    await self._thread.drain(self._queue, self.settle, self.fail, lambda: bool(self._sent))
                else:
                    await self._commit_messages(conn, take_messages(self._queue))

    async def _commit_messages(self, conn: AsyncConnection, items: list[PendingMessage]) -> None:
        try:
            async with conn.begin():
                returned = await self._insert_messages.execute(conn, [item.prepared for item in items])
                ids, lanes, prepared, extra = _paired(items, returned)
                if prepared:
                    await self._insert_deliveries.execute(conn, prepared, extra)
        except Exception as exc:  # the whole batch was rolled back: find the refused row, or tell every waiter
            if len(items) > 1 and refused_a_row(exc):
                half = len(items) // 2
                await self._commit_messages(conn, items[:half])
                await self._commit_messages(conn, items[half:])
            else:
                self.fail(items, exc)
            return
        self.settle(items, ids, lanes)

    def settle(self, items: list[PendingMessage], ids: list[int | None], lanes: list[tuple[int, str]]) -> None:
        """A batch is committed: give each waiter its message id and tell the listener which lanes changed."""
        for item, message_id in zip(items, ids, strict=True):
            try:
                item.outcome.stored(message_id)
            except Exception:  # one waiter's trouble must not keep the others waiting
                log.exception("a committed message's waiter failed")
        if self._on_commit is not None and lanes:
            self._on_commit(frozenset(lanes))

    @staticmethod
    def fail(items: list[PendingMessage], exc: BaseException) -> None:
        """The whole batch failed: tell every waiter (the writer keeps running)."""
        log.error("group commit of %d messages failed", len(items), exc_info=exc)
        for item in items:
            try:
                item.outcome.failed(exc)
            except Exception:
                log.exception("a failed message's waiter failed")

    async def _commit_job(self, conn: AsyncConnection, item: PendingJob) -> None:
        try:
            async with conn.begin():
                result = await item.job(conn)
        except Exception as exc:
            if not item.future.done():
                item.future.set_exception(exc)
            return
        if not item.future.done():
            item.future.set_result(result)
        if self._on_commit is not None:
            self._on_commit(None)

    async def _commit_sent(self, conn: AsyncConnection, items: list[PendingSent]) -> None:
        try:
            async with conn.begin():
                await conn.execute(self._mark_sent, [item.values for item in items])
        except Exception as exc:
            log.exception("marking %d deliveries sent failed", len(items))
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        for item in items:
            if not item.future.done():
                item.future.set_result(None)


Prepared = tuple[tuple[str, ...], list[Any]]
"""A row ready for ``BulkInsert``: its column names and its values, already converted for the driver."""


class BulkInsert:
    """One multi-row ``INSERT ... VALUES (...), (...)`` per batch, for the group-commit writer.

    Values go through the dialect's own bind processors (so rows are stored exactly as a Core
    insert stores them), but without Core's per-row parameter machinery, which was the hot
    path's largest cost. Rows are converted when they are submitted (``prepare``, on the event
    loop), so the batch itself only concatenates values. The SQL text is rendered once per
    (columns, row count).
    """

    def __init__(
        self,
        table: sa.Table,
        dialect: sa.Dialect,
        tail: str,
        *,
        extra: tuple[str, ...] = (),
        times: SqliteTimeText | None = None,
    ) -> None:
        self._table = table
        self._times = times  # SQLite's timestamps, converted faster
        self._extra = extra  # columns whose values come with the batch, not the rows (a delivery's message id...)
        self._dialect = dialect
        self._tail = tail
        self._numbered = dialect.paramstyle in ("numeric_dollar", "numeric")
        self._sql: dict[tuple[tuple[str, ...], int], str] = {}
        self._processors: dict[tuple[str, ...], list[tuple[int, Callable[[Any], Any]]]] = {}

    def prepare(self, row: dict[str, Any]) -> Prepared:
        """``row``'s columns and driver-ready values (None stays None: no bind processor changes it)."""
        columns = tuple(row)
        converters = self._processors.get(columns)
        if converters is None:
            converters = self._processors[columns] = self._converters(columns)
        values = list(row.values())
        for index, processor in converters:
            value = values[index]
            if value is not None:
                values[index] = processor(value)
        return columns, values

    def slot(self, columns: tuple[str, ...], name: str) -> Slot:
        """Where column ``name`` of a row with ``columns`` (prepared before) goes, and its converter if any."""
        index = columns.index(name)
        return index, dict(self._processors[columns]).get(index)

    def statements(
        self, rows: list[Prepared], extra: list[tuple[Any, ...]] | None = None
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The SQL and parameters inserting ``rows`` in order; ``extra`` gives each row's extra column values."""
        statements: list[tuple[str, tuple[Any, ...]]] = []
        first = 0
        while first < len(rows):
            columns = rows[first][0]
            names = (*columns, *self._extra) if extra is not None else columns
            limit = min(len(rows), first + max(1, MAX_PARAMETERS // len(names)))
            last = first + 1
            while last < limit and rows[last][0] == columns:  # a run of rows with the same columns
                last += 1
            flat: list[Any] = []
            if extra is None:
                for _columns, values in rows[first:last]:
                    flat.extend(values)
            else:
                for (_columns, values), added in zip(rows[first:last], extra[first:last], strict=True):
                    flat.extend(values)
                    flat.extend(added)
            statements.append((self._render(names, last - first), tuple(flat)))
            first = last
        return statements

    def _render(self, columns: tuple[str, ...], rows: int) -> str:
        sql = self._sql.get((columns, rows))
        if sql is None:
            quote = self._dialect.identifier_preparer.quote
            width = len(columns)
            if self._numbered:
                values = ", ".join(
                    "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(rows)
                )
            else:
                values = ", ".join(["(" + ", ".join("?" * width) + ")"] * rows)
            names = ", ".join(quote(c) for c in columns)
            sql = f"INSERT INTO {quote(self._table.name)} ({names}) VALUES {values} {self._tail}"
            if len(self._sql) > 2048:
                self._sql.clear()
            self._sql[(columns, rows)] = sql
        return sql

    def _converters(self, columns: tuple[str, ...]) -> list[tuple[int, Callable[[Any], Any]]]:
        found: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(columns):
            kind = self._table.c[name].type
            processor = kind._cached_bind_processor(self._dialect)
            if processor is not None:
                if isinstance(kind, sa.DateTime):
                    processor = self._times.for_processor(processor) if self._times is not None else processor
                found.append((index, processor))
        return found

    async def execute(
        self, conn: AsyncConnection, rows: list[Prepared], extra: list[tuple[Any, ...]] | None = None
    ) -> list[Any]:
        """Insert ``rows`` on an async connection; returns the rows of the ``RETURNING`` tail, if any."""
        returned: list[Any] = []
        for sql, parameters in self.statements(rows, extra):
            result = await conn.exec_driver_sql(sql, parameters)
            if result.returns_rows:
                returned.extend(result.all())
        return returned

    def execute_sync(
        self, conn: sa.Connection, rows: list[Prepared], extra: list[tuple[Any, ...]] | None = None
    ) -> list[Any]:
        """``execute`` on a blocking connection (the SQLite batch thread), straight on its DBAPI cursor: the values
        are driver-ready already, and plain tuples for the ``RETURNING`` rows spare the thread (and the GIL it holds
        meanwhile) SQLAlchemy's result rows, 1.8 ms of a 741-message batch."""
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        dbapi_error = conn.dialect.loaded_dbapi.Error
        returned: list[Any] = []
        try:
            for sql, parameters in self.statements(rows, extra):
                try:
                    cursor.execute(sql, parameters)
                except dbapi_error as exc:  # the same exception SQLAlchemy would raise (IntegrityError...)
                    raise sa.exc.DBAPIError.instance(sql, parameters, exc, dbapi_error, dialect=conn.dialect) from exc
                if cursor.description is not None:
                    returned.extend(cursor.fetchall())
        finally:
            cursor.close()
        return returned


Slot = tuple[int, Callable[[Any], Any] | None]
"""A column's place among a prepared row's values, and the driver converter of its values (None: none)."""


@final
class MessageShape:
    """Messages whose rows differ only in their text, source id and time (one customer's, in one conversation),
    prepared once from a first message's rows: each message then copies the prepared values and sets these three,
    instead of building row dicts and converting every column again (the hot path's largest cost after the
    socket's). Its deliveries differ only in their times."""

    __slots__ = ("_columns", "_deliveries", "_lanes", "_slots", "_source_channel", "_values")

    def __init__(
        self, messages: BulkInsert, deliveries: BulkInsert, message: dict[str, Any], rows: list[dict[str, Any]]
    ) -> None:
        self._source_channel: str = message["source_channel"]
        self._columns, self._values = messages.prepare(message)
        self._slots = tuple(messages.slot(self._columns, name) for name in ("text", "source_id", "created_at"))
        self._deliveries = [
            (columns, values, deliveries.slot(columns, "next_attempt_at"), deliveries.slot(columns, "created_at"))
            for columns, values in map(deliveries.prepare, rows)
        ]
        self._lanes = _lanes(rows)

    def pending(self, text: str, source_id: str, now: datetime, outcome: Outcome) -> PendingMessage:
        """The next message: ``text`` as stored (sanitized and masked already), its ``source_id`` and time."""
        (text_at, text_convert), (source_at, source_convert), (time_at, time_convert) = self._slots
        values = self._values.copy()
        values[text_at] = text if text_convert is None else text_convert(text)
        values[source_at] = source_id if source_convert is None else source_convert(source_id)
        values[time_at] = now if time_convert is None else time_convert(now)
        deliveries: list[Prepared] = []
        for columns, delivery, (next_at, next_convert), (created_at, created_convert) in self._deliveries:
            delivery = delivery.copy()
            delivery[next_at] = now if next_convert is None else next_convert(now)
            delivery[created_at] = now if created_convert is None else created_convert(now)
            deliveries.append((columns, delivery))
        key = (self._source_channel, source_id)
        return PendingMessage(key, (self._columns, values), deliveries, self._lanes, outcome)


class SqliteTimeText:
    """SQLite's DATETIME bind processor formats ``%Y-%m-%d %H:%M:%S.%f`` field by field in Python; the C
    ``isoformat`` gives the same text several times faster, and a message's row and its deliveries' rows carry
    the same timestamp object, converted once (one instance serves a writer's inserts, on its event loop).
    ``for_processor`` uses it only where it agrees with the dialect's processor (a custom ``storage_format``
    would not)."""

    _SAMPLES = (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59))

    def __init__(self) -> None:
        self._last: Any = None
        self._text: str = ""

    def __call__(self, value: Any) -> str:
        if value is not self._last:
            self._last, self._text = value, value.isoformat(" ", "microseconds")[:26]
        return self._text

    def for_processor(self, processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return self if all(self(v) == processor(v) for v in self._SAMPLES) else processor


def refused_a_row(exc: BaseException) -> bool:
    """Whether a failed batch is worth committing again in halves: the database refused something in it (a
    constraint, a value it cannot store), so the other messages of the batch are fine and are stored, and only the
    refused one fails (found in about 2 log2(n) commits). Not for a lost connection, a locked or full database."""
    return (
        isinstance(exc, sa.exc.DBAPIError)
        and not exc.connection_invalidated
        and not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
    )


def take_messages(queue: deque[PendingMessage | PendingJob]) -> list[PendingMessage]:
    """Pop the messages at the head of ``queue`` (up to ``MAX_BATCH``; a job ends the run: order is kept).

    Only the writer pops, and ``deque.popleft`` is atomic, so the SQLite batch thread may call this while
    the event loop appends.
    """
    items: list[PendingMessage] = []
    while queue and len(items) < MAX_BATCH:
        head = queue[0]
        if not isinstance(head, PendingMessage):
            break
        items.append(head)
        queue.popleft()
    return items


def _lanes(deliveries: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Each delivery row's lane: (conversation id, target channel), what the commit listener is told."""
    return [(row["conversation_id"], row["target_channel"]) for row in deliveries]


def _paired(
    items: list[PendingMessage], returned: list[Any]
) -> tuple[list[int | None], list[tuple[int, str]], list[Prepared], list[tuple[int, str]]]:
    """Each item's message id (None: a duplicate); the stored ones' delivery lanes, prepared deliveries and their
    extra values.

    A delivery submitted with its message is keyed ``m<message id>.<n>``: unique because the message
    is (a redelivered message is a duplicate, so its deliveries are never inserted twice), and
    increasing, so the key index grows at its end instead of dirtying a page per row.
    """
    stored = {(channel, source_id): message_id for message_id, channel, source_id in returned}
    ids: list[int | None] = []
    lanes: list[tuple[int, str]] = []
    prepared: list[Prepared] = []
    extra: list[tuple[int, str]] = []
    for item in items:
        message_id = stored.pop(item.key, None)  # pop: a second copy in the batch is a duplicate
        ids.append(message_id)
        if message_id is not None:
            lanes.extend(item.lanes)
            prepared.extend(item.prepared_deliveries)
            for n in range(len(item.prepared_deliveries)):
                extra.append((message_id, f"m{message_id}.{n}"))
    return ids, lanes, prepared, extra


def _writer_cache(dbapi_conn: Any, _record: Any) -> None:
    """64 MiB of page cache for the batch connection (SQLite's default is 2 MiB): the indexes' pages that
    inserts touch stay in memory as the tables grow (``bench.sqlite_batch --cache-mib 64``: a 741-message
    batch at 220k rows, 24.5 -> 22 ms)."""
    dbapi_conn.execute("PRAGMA cache_size=-65536")


class SqliteBatchThread:
    """SQLite: a message batch is written in ONE trip to a thread of its own, on a connection of its own.

    Through aiosqlite every statement, fetch and commit is a separate trip through the event loop, and
    under load each trip waits behind hundreds of socket callbacks: the batch's insert took 4x what
    SQLite spent on it. Here rows, both inserts and the commit (its fsync included) run in one call,
    through SQLAlchemy's blocking pysqlite dialect (same bind processors, same pragmas). The writer
    never runs a batch and a job at once, so the two connections never compete for the write lock.
    """

    def __init__(self, url: sa.URL, messages: BulkInsert, deliveries: BulkInsert) -> None:
        self._engine = sa.create_engine(url.set(drivername="sqlite"), json_serializer=_json_dumps)
        sa.event.listen(self._engine, "connect", _sqlite_pragmas)
        sa.event.listen(self._engine, "connect", _writer_cache)
        self._messages = messages
        self._deliveries = deliveries
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="switchboard-sqlite-writer")
        self._conn: sa.Connection | None = None

    async def drain(
        self,
        queue: deque[PendingMessage | PendingJob],
        settle: Callable[[list[PendingMessage], list[int | None], list[tuple[int, str]]], None],
        fail: Callable[[list[PendingMessage], BaseException], None],
        yield_to_loop: Callable[[], bool],
    ) -> None:
        """Write batches from the head of ``queue`` until it is empty, holds a job, or ``yield_to_loop()``.

        The thread takes the next batch as soon as it committed one, without a trip through the busy
        event loop in between; each batch's outcome is handed to the loop (``settle``/``fail``) as soon as
        it is committed.
        """
        loop = asyncio.get_running_loop()

        def commit(items: list[PendingMessage]) -> None:
            try:
                ids, lanes = self._write(items)
            except Exception as exc:  # rolled back: find the refused row (``refused_a_row``), or fail them all
                if len(items) > 1 and refused_a_row(exc):
                    half = len(items) // 2
                    commit(items[:half])
                    commit(items[half:])
                else:
                    loop.call_soon_threadsafe(fail, items, exc)
            else:
                loop.call_soon_threadsafe(settle, items, ids, lanes)

        def run() -> None:
            while items := take_messages(queue):
                commit(items)
                if yield_to_loop():
                    return

        await loop.run_in_executor(self._executor, run)

    def _write(self, items: list[PendingMessage]) -> tuple[list[int | None], list[tuple[int, str]]]:
        if self._conn is None:
            self._conn = self._engine.connect()
        with self._conn.begin():
            returned = self._messages.execute_sync(self._conn, [item.prepared for item in items])
            ids, lanes, prepared, extra = _paired(items, returned)
            if prepared:
                self._deliveries.execute_sync(self._conn, prepared, extra)
        return ids, lanes

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._engine.dispose()


class Store:
    """The database: an engine for reads and the one writer for writes."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_engine(self.url)
        self._commit_listeners: list[CommitListener] = []
        self.writer = GroupCommitWriter(self.engine, on_commit=self._committed)
        self.loop: asyncio.AbstractEventLoop  # set once running (``async with``), as is ``clock``
        self.clock: TickClock

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def on_commit(self, listener: CommitListener) -> None:
        """Call ``listener`` after every commit that wrote deliveries (with their lanes) or ran a job (None)."""
        self._commit_listeners.append(listener)

    def _committed(self, lanes: Lanes) -> None:
        for listener in self._commit_listeners:
            listener(lanes)

    async def __aenter__(self) -> Store:
        self.loop = asyncio.get_running_loop()  # kept: each ``get_running_loop()`` call costs a getpid() syscall
        self.clock = TickClock(self.loop)
        self.writer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.writer.close()
        await self.engine.dispose()

    async def fetch_all(self, statement: sa.Executable) -> Sequence[sa.Row[Any]]:
        """Run a read-only statement and return its rows."""
        async with self.engine.connect() as conn:
            return (await conn.execute(statement)).all()

    async def fetch_one(self, statement: sa.Executable) -> sa.Row[Any] | None:
        async with self.engine.connect() as conn:
            return (await conn.execute(statement)).first()

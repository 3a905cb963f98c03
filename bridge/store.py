"""This module contains the Store: database engine setup, the group-commit writer and the queries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bridge.model import Delivery, Message

log = logging.getLogger("switchboard.store")

T = TypeVar("T")
Job = Callable[[AsyncConnection], Awaitable[T]]

MAX_BATCH = 512  # rows per group commit; keeps SQLite well under its bound-variable limit


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


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, synchronous=FULL, foreign keys and a busy timeout."""
    engine = create_async_engine(normalise_url(url), pool_pre_ping=False)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=15000"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

    return engine


@dataclass(slots=True)
class PendingMessage:
    """A message row and its delivery rows waiting for the next group commit."""

    message: dict[str, Any]
    deliveries: list[dict[str, Any]]
    future: asyncio.Future[int | None]


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

    def __init__(self, engine: AsyncEngine, on_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._queue: list[PendingMessage | PendingJob] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._insert_messages = (
            insert(Message.__table__)  # type: ignore[arg-type]
            .on_conflict_do_nothing(index_elements=["source_channel", "source_id"])
            .returning(Message.__table__.c.id, Message.__table__.c.source_channel, Message.__table__.c.source_id)  # type: ignore[attr-defined]
        )
        self._insert_deliveries = (
            insert(Delivery.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])  # type: ignore[arg-type]
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="switchboard-writer")

    async def close(self) -> None:
        """Flush what is queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    def submit_message(self, message: dict[str, Any], deliveries: list[dict[str, Any]]) -> asyncio.Future[int | None]:
        """Queue a message; the future gives its id once committed, or None for a duplicate."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queue.append(PendingMessage(message, deliveries, future))
        self._wakeup.set()
        return future

    def submit_job(self, job: Job[T]) -> asyncio.Future[T]:
        """Queue ``job``; the future gives its result once its transaction is committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(PendingJob(job, future))
        self._wakeup.set()
        return future

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in its own transaction on the writer connection and return its result."""
        return await self.submit_job(job)

    async def _run(self) -> None:
        async with self._engine.connect() as conn:
            while True:
                if not self._queue:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                batch, self._queue = self._queue, []
                await self._flush(conn, batch)

    async def _flush(self, conn: AsyncConnection, batch: list[PendingMessage | PendingJob]) -> None:
        messages: list[PendingMessage] = []
        for item in batch:
            if isinstance(item, PendingMessage):
                messages.append(item)
                if len(messages) == MAX_BATCH:
                    await self._commit_messages(conn, messages)
                    messages = []
            else:
                if messages:  # keep submission order between jobs and messages
                    await self._commit_messages(conn, messages)
                    messages = []
                await self._commit_job(conn, item)
        if messages:
            await self._commit_messages(conn, messages)

    async def _commit_messages(self, conn: AsyncConnection, items: list[PendingMessage]) -> None:
        try:
            async with conn.begin():
                result = await conn.execute(self._insert_messages, [item.message for item in items])
                stored = {(row.source_channel, row.source_id): row.id for row in result}
                deliveries: list[dict[str, Any]] = []
                outcome: list[int | None] = []
                for item in items:
                    key = (item.message["source_channel"], item.message["source_id"])
                    message_id = stored.pop(key, None)  # pop: a second copy in the batch is a duplicate
                    outcome.append(message_id)
                    if message_id is not None:
                        deliveries.extend({**d, "message_id": message_id} for d in item.deliveries)
                if deliveries:
                    await conn.execute(self._insert_deliveries, deliveries)
        except Exception as exc:  # the whole batch failed: tell every waiter, keep running
            log.exception("group commit of %d messages failed", len(items))
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        for item, message_id in zip(items, outcome, strict=True):
            if not item.future.done():
                item.future.set_result(message_id)
        if self._on_commit is not None and any(item.deliveries for item in items):
            self._on_commit()

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
            self._on_commit()


class Store:
    """The database: an engine for reads and the one writer for writes."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_engine(self.url)
        self._commit_listeners: list[Callable[[], None]] = []
        self.writer = GroupCommitWriter(self.engine, on_commit=self._committed)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that wrote deliveries or ran a job."""
        self._commit_listeners.append(listener)

    def _committed(self) -> None:
        for listener in self._commit_listeners:
            listener()

    async def __aenter__(self) -> Store:
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

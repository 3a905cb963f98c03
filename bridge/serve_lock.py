"""This module contains ServeLock: one running bridge per database.

Every bridge's outbox posts whatever is pending in its database, and no delivery is claimed by one process (DESIGN.md,
"Scaling past one machine", plans that). So a second ``serve`` or ``demo`` on the same database would post each
message twice, and open each conversation's thread twice. The second one refuses to start instead, with one line.

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection the bridge holds while it runs. A
  process that dies loses its connection, and the database lets the lock go with it.
- SQLite: an exclusive ``flock`` on ``<database file>-serve.lock`` beside the file, held while the bridge runs; the
  kernel lets it go when the process ends, however it ends. The file itself stays (removing a lock file races).

A bridge restarted at once after a ``kill -9`` may still find its predecessor's lock for a moment (PostgreSQL ends
the old session when it notices the closed connection): the lock is tried for ``WAIT`` seconds before giving up.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from pathlib import Path
from typing import Final, final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["KEY", "WAIT", "AnotherBridgeRuns", "ServeLock"]

log = logging.getLogger("switchboard.serve_lock")

KEY: Final = int.from_bytes(b"swbserve", "big")  # the advisory lock's id (a positive 64-bit integer)
WAIT: Final = 5.0  # seconds a start keeps trying the lock
_RETRY: Final = 0.1


class AnotherBridgeRuns(Exception):
    """Another bridge process serves this database."""


@final
class ServeLock:
    """Held from ``__aenter__`` to ``__aexit__``; entering raises ``AnotherBridgeRuns`` when another process has it."""

    def __init__(self, engine: AsyncEngine, *, wait: float | None = None) -> None:
        self._engine = engine
        self._wait = WAIT if wait is None else wait  # seconds to keep trying (0: one try)
        self._conn: AsyncConnection | None = None  # PostgreSQL: the session holding the lock
        self._fd: int | None = None  # SQLite: the locked file

    async def __aenter__(self) -> ServeLock:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._wait
        while not await self._try():
            if loop.time() >= give_up:
                raise AnotherBridgeRuns(
                    f"another switchboard process is serving {self._where()}: run one per database"
                    " (a second one would post every message twice); stop it first"
                )
            await asyncio.sleep(_RETRY)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.scalar(sa.select(sa.func.pg_advisory_unlock(KEY)))
                await conn.commit()
            except Exception as error:  # the session is gone (PostgreSQL restarted, say): its lock went with it
                log.info("serve lock: its session had ended already (%s)", type(error).__name__)
            finally:
                await conn.close()  # a session that ends lets its locks go in any case
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # lets the flock go

    async def _try(self) -> bool:
        if self._engine.dialect.name == "postgresql":
            return await self._try_advisory_lock()
        path = self._sqlite_file()
        return path is None or self._try_flock(path)

    async def _try_advisory_lock(self) -> bool:
        conn = await self._engine.connect()
        try:
            got = bool(await conn.scalar(sa.select(sa.func.pg_try_advisory_lock(KEY))))
            await conn.commit()  # the lock outlives the transaction; an open one would hold back vacuum
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    def _try_flock(self, path: Path) -> bool:
        fd = os.open(f"{path}-serve.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _sqlite_file(self) -> Path | None:
        """The database file; None for an in-memory database (no other process can open it)."""
        database = self._engine.url.database
        return None if not database or database == ":memory:" else Path(database)

    def _where(self) -> str:
        if self._engine.dialect.name == "postgresql":
            return f"the database {self._engine.url.render_as_string(hide_password=True)}"
        return f"the database {self._sqlite_file()}"

"""This module contains schema version management: Alembic migrations run from the bridge itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from bridge.store import create_engine, normalise_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class SchemaOutOfDate(Exception):
    """The database schema is not at the code's head revision."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync_conn: Connection) -> str | None:
                return MigrationContext.configure(sync_conn).get_current_revision()

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def upgrade(url: str) -> None:
    """Apply every pending migration (Alembic's env.py runs its own loop, so use a thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def ensure_current(url: str) -> None:
    """Raise ``SchemaOutOfDate`` unless the database is at the head revision."""
    current, head = await current_revision(url), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing'} but this version needs {head}; "
            "run `switchboard migrate` first"
        )

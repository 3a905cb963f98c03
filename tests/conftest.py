"""Shared fixtures: databases (SQLite and PostgreSQL), the Slack emulator and a running bridge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.databases import database_url
from tests.support.harness import Harness, running_bridge, running_slack


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_slack() as (slack, slack_server), running_bridge(db_url, tmp_path, slack, slack_server) as h:
        yield h

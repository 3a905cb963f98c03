"""Shared fixtures: databases (SQLite and PostgreSQL), the Slack emulator and a running bridge."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM
from tests.support.databases import database_url
from tests.support.harness import Harness, running_bridge, running_slack, running_telegram_bridge


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-telegram-bot 22 warns on every ``RetryAfter`` unless it may return timedeltas."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def harness(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    greeting = request.node.get_closest_marker("greeting") is not None
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, greeting=greeting) as h,
    ):
        yield h


@pytest.fixture(params=["webhook", "polling"])
async def telegram_harness(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """A bridge with its Telegram channel (in both modes) against the Telegram and Slack emulators."""
    greeting = request.node.get_closest_marker("greeting") is not None
    async with running_telegram_bridge(db_url, tmp_path, request.param, greeting=greeting) as h:
        yield h


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium fonts-wqy-microhei")
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium fonts-wqy-microhei")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()

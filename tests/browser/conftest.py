"""Fixtures of the browser tests: the bridge serving the demo page, with the Slack emulator behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.cli import demo_page
from tests.support.harness import Harness, running_bridge, running_slack


@pytest.fixture
async def demo_bridge(tmp_path: Path) -> AsyncIterator[Harness]:
    """The bridge on SQLite serving the demo page (its widget) at ``/``, the Slack emulator behind it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}"
    async with running_slack() as (slack, slack_server):
        page = demo_page(slack_url=str(slack_server.make_url("/")))
        async with running_bridge(url, tmp_path, slack, slack_server, demo_page=page) as harness:
            yield harness

"""Fixtures shared by the scenarios."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.agent_group import GROUP, ON_CALL, OUTSIDER
from tests.support.harness import Harness, running_bridge, running_slack


@pytest.fixture
async def group_bridge(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """A bridge with SWITCHBOARD_SLACK_AGENT_GROUP: ON_CALL is in the group, not in the support channel, and
    OUTSIDER is in neither."""
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, agent_group=GROUP) as h,
    ):
        slack.usergroups[GROUP] = {ON_CALL}
        slack.add_user(ON_CALL, "casey")
        slack.add_user(OUTSIDER, "olly")
        yield h

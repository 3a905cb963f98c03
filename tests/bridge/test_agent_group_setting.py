"""SWITCHBOARD_SLACK_AGENT_GROUP: an optional Slack user group id, checked at start like every other setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, Settings

GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_SIGNING_SECRET": "s3cret", "SLACK_SUPPORT_CHANNEL": "C0123ABCD"}


def test_without_it_only_the_channel_counts() -> None:
    assert Settings.load(GOOD).slack.agent_group is None


def test_a_user_group_id_from_the_environment_or_the_file(tmp_path: Path) -> None:
    assert Settings.load({**GOOD, "SWITCHBOARD_SLACK_AGENT_GROUP": "S0ONCALL"}).slack.agent_group == "S0ONCALL"
    config = tmp_path / "switchboard.toml"
    config.write_text('switchboard_slack_agent_group = "S0123ABCD"\n', encoding="utf-8")
    assert Settings.load(GOOD, config).slack.agent_group == "S0123ABCD"


@pytest.mark.parametrize("value", ["@oncall", "oncall", "C0123ABCD", "s0oncall", "S0"])
def test_anything_but_a_user_group_id_is_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load({**GOOD, "SWITCHBOARD_SLACK_AGENT_GROUP": value})
    [problem] = refused.value.problems
    assert problem.startswith("SWITCHBOARD_SLACK_AGENT_GROUP must be a user group id like S0123ABCD")
    assert f"got '{value}'" in problem

"""Settings fail closed: every missing or invalid secret is named, and nothing starts open."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, Settings

GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_SIGNING_SECRET": "s3cret", "SLACK_SUPPORT_CHANNEL": "C0123ABCD"}


def _problems(environ: dict[str, str], config_file: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        Settings.load(environ, config_file)
    return refused.value.problems


def test_nothing_configured_names_every_required_secret() -> None:
    problems = _problems({})
    assert [p.split()[0] for p in problems] == ["SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_SUPPORT_CHANNEL"]


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("SLACK_SIGNING_SECRET", "  ", "SLACK_SIGNING_SECRET"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN"),
        ("SLACK_SUPPORT_CHANNEL", "#support", "SLACK_SUPPORT_CHANNEL"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token", "SLACK_APP_TOKEN"),
        ("SWITCHBOARD_PORT", "80000", "SWITCHBOARD_PORT"),
        ("SWITCHBOARD_SLACK_CATCH_UP_MINUTES", "0", "SWITCHBOARD_SLACK_CATCH_UP_MINUTES"),
        ("SWITCHBOARD_SLACK_CATCH_UP_MINUTES", "2.5", "SWITCHBOARD_SLACK_CATCH_UP_MINUTES"),
        ("TELEGRAM_MODE", "carrier-pigeon", "TELEGRAM_MODE"),
    ],
)
def test_one_bad_setting_is_named(key: str, value: str, named: str) -> None:
    environ = {**GOOD, "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_WEBHOOK_SECRET": "ok", key: value}
    assert [p.split()[0] for p in _problems(environ)] == [named]


def test_telegram_webhook_mode_without_secret_refuses_to_start() -> None:
    problems = _problems({**GOOD, "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_MODE": "webhook"})
    assert problems == ["TELEGRAM_WEBHOOK_SECRET is not set: webhook mode refuses unauthenticated updates"]


@pytest.mark.parametrize("secret", ["has space", "a" * 257, "semi;colon"])
def test_telegram_secret_outside_the_allowed_alphabet_is_refused(secret: str) -> None:
    problems = _problems({**GOOD, "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_WEBHOOK_SECRET": secret})
    assert problems[0].startswith("TELEGRAM_WEBHOOK_SECRET must be")


def test_polling_mode_needs_no_webhook_secret() -> None:
    settings = Settings.load({**GOOD, "TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_MODE": "polling"})
    assert settings.telegram is not None and settings.telegram.mode == "polling"


def test_toml_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text(
        'slack_bot_token = "xoxb-from-file"\nslack_signing_secret = "file"\nslack_support_channel = "C0FILE"\n'
        'switchboard_allowed_origins = ["https://a.example", "https://b.example/"]\nswitchboard_port = 9000\n'
    )
    settings = Settings.load({"SLACK_SIGNING_SECRET": "from-env"}, config)
    assert settings.slack.bot_token == "xoxb-from-file" and settings.slack.signing_secret == "from-env"
    assert settings.allowed_origins == ("https://a.example", "https://b.example") and settings.port == 9000


def test_example_settings_file_in_the_repo_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "switchboard.example.toml"
    assert Settings.load({}, example).slack.support_channel == "C0123456789"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("slack_bot_token = ", "config file"), ('slak_bot_token = "x"', "unknown setting 'slak_bot_token'")],
)
def test_broken_toml_file_is_reported_with_its_path(tmp_path: Path, content: str, fragment: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    assert any(fragment in p and str(config) in p for p in _problems(GOOD, config))

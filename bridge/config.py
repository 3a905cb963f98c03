"""This module contains the settings, read once from the environment or a TOML file and validated (fail closed)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from bridge.abuse import NEW_CONVERSATIONS_PER_IP
from bridge.hours import BusinessHours, parse_holidays, parse_hours
from bridge.store import default_sqlite_url

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
DEFAULT_TELEGRAM_FILE_URL = "https://api.telegram.org/file/bot"
DEFAULT_URGENT_KEYWORDS = ("payment", "withdrawal", "hacked")
SESSION_DAYS = 90  # a widget session expires after this many days without a hello (SWITCHBOARD_SESSION_DAYS)
SLACK_CATCH_UP_MINUTES = 5  # Slack threads are read for replies whose event never came (channels/slack/catch_up.py)
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_SLACK_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,}")
_SLACK_USER_GROUP = re.compile(r"S[A-Z0-9]{2,}")
_Getter = Callable[[str], str | None]

KNOWN_KEYS = (
    "SWITCHBOARD_DATABASE_URL",
    "SWITCHBOARD_DATA_DIR",
    "SWITCHBOARD_HOST",
    "SWITCHBOARD_PORT",
    "SWITCHBOARD_PUBLIC_URL",
    "SWITCHBOARD_ALLOWED_ORIGINS",
    "SWITCHBOARD_DEFAULT_LOCALE",
    "SWITCHBOARD_GREETING",
    "SWITCHBOARD_FAQ",
    "SWITCHBOARD_URGENT_KEYWORDS",
    "SWITCHBOARD_HOURS",
    "SWITCHBOARD_HOLIDAYS",
    "SWITCHBOARD_SLACK_AGENT_GROUP",
    "SWITCHBOARD_SLACK_CATCH_UP_MINUTES",
    "SWITCHBOARD_RETENTION_DAYS",
    "SWITCHBOARD_SESSION_DAYS",
    "SWITCHBOARD_NEW_CONVERSATIONS_PER_IP",
    "SWITCHBOARD_TRUSTED_PROXIES",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_SUPPORT_CHANNEL",
    "SLACK_API_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_MODE",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_API_URL",
    "TELEGRAM_FILE_URL",
)


class ConfigError(Exception):
    """One or more settings are missing or invalid; ``problems`` has one line per setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackSettings:
    bot_token: str
    signing_secret: str
    support_channel: str
    api_url: str = DEFAULT_SLACK_API_URL
    app_token: str | None = None
    agent_group: str | None = None  # a user group whose members may act like the support channel's
    # Between two reads of the active threads for agents' replies whose Slack event never came (also read at start).
    catch_up_every: timedelta = timedelta(minutes=SLACK_CATCH_UP_MINUTES)


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramSettings:
    bot_token: str
    mode: str  # "webhook" or "polling"
    webhook_secret: str | None
    api_url: str = DEFAULT_TELEGRAM_API_URL
    file_url: str = DEFAULT_TELEGRAM_FILE_URL


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    database_url: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    allowed_origins: tuple[str, ...] = ()
    default_locale: str = "en"
    greeting: bool = True  # greet each new conversation's customer in their language
    faq: bool = True  # the FAQ bot: canned answers with keyword lists answer matching messages before an agent joins
    urgent_keywords: tuple[str, ...] = DEFAULT_URGENT_KEYWORDS  # customer words that make a conversation urgent
    hours: BusinessHours | None = None  # None: always open (no offline notice)
    retention_days: int | None = None  # None: keep everything; N: resolved conversations idle N days are deleted
    session_days: int = SESSION_DAYS  # a widget session not used (no hello) for this many days expires
    new_conversations_per_ip: int = NEW_CONVERSATIONS_PER_IP  # a client address's new conversations per 12 h; 0: any
    # Reverse proxies whose X-Forwarded-For names the widget client's address (channels.web.proxies); none: the peer's
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    slack: SlackSettings
    telegram: TelegramSettings | None = None
    locales_dir: Path = field(default_factory=lambda: Path(__file__).resolve().parents[1] / "locales")

    @classmethod
    def load(cls, environ: Mapping[str, str], config_file: Path | None = None) -> Settings:
        """Read settings: the TOML file's lower-case keys, overridden by environment variables.

        Raises:
            ConfigError: listing every missing or invalid setting by name.
        """
        values, problems = _read_values(environ, config_file)
        return _build(values, problems)


def database_url(environ: Mapping[str, str], config_file: Path | None = None) -> str:
    """Only the database URL (for ``migrate``, which needs no Slack or Telegram secrets)."""
    values, problems = _read_values(environ, config_file)
    if problems:
        raise ConfigError(problems)
    url = values.get("SWITCHBOARD_DATABASE_URL", "").strip()
    return url or default_sqlite_url(Path(values.get("SWITCHBOARD_DATA_DIR", "").strip() or "data"))


def _read_values(environ: Mapping[str, str], config_file: Path | None) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    problems: list[str] = []
    if config_file is not None:
        values.update(_read_toml(config_file, problems))
    values.update({k: v for k, v in environ.items() if k in KNOWN_KEYS})
    return values, problems


def _read_toml(path: Path, problems: list[str]) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"config file {path}: {exc.strerror}")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"config file {path}: {exc}")
        return {}
    values: dict[str, str] = {}
    for key, value in data.items():
        if key.upper() not in KNOWN_KEYS:
            problems.append(f"config file {path}: unknown setting '{key}'")
        elif isinstance(value, list):
            values[key.upper()] = ",".join(str(v) for v in value)
        else:
            values[key.upper()] = str(value)
    return values


def _build(values: dict[str, str], problems: list[str]) -> Settings:
    def get(key: str) -> str | None:
        value = values.get(key, "").strip()
        return value or None

    data_dir = Path(get("SWITCHBOARD_DATA_DIR") or "data")
    port = _port(get("SWITCHBOARD_PORT"), problems)
    greeting = _switch("SWITCHBOARD_GREETING", get("SWITCHBOARD_GREETING"), True, problems)
    faq = _switch("SWITCHBOARD_FAQ", get("SWITCHBOARD_FAQ"), True, problems)
    hours = _hours(get("SWITCHBOARD_HOURS"), get("SWITCHBOARD_HOLIDAYS"), problems)
    retention_days = _retention_days(get("SWITCHBOARD_RETENTION_DAYS"), problems)
    session_days = _session_days(get("SWITCHBOARD_SESSION_DAYS"), problems)
    new_conversations_per_ip = _new_conversations_per_ip(get("SWITCHBOARD_NEW_CONVERSATIONS_PER_IP"), problems)
    trusted_proxies = _trusted_proxies(get("SWITCHBOARD_TRUSTED_PROXIES"), problems)
    slack = _slack(get, problems)
    telegram = _telegram(get, problems)
    if problems:
        raise ConfigError(problems)
    assert slack is not None
    origins = tuple(o.strip().rstrip("/") for o in (get("SWITCHBOARD_ALLOWED_ORIGINS") or "").split(",") if o.strip())
    return Settings(
        database_url=get("SWITCHBOARD_DATABASE_URL") or default_sqlite_url(data_dir),
        data_dir=data_dir,
        host=get("SWITCHBOARD_HOST") or "127.0.0.1",
        port=port,
        public_url=get("SWITCHBOARD_PUBLIC_URL"),
        allowed_origins=origins,
        default_locale=get("SWITCHBOARD_DEFAULT_LOCALE") or "en",
        greeting=greeting,
        faq=faq,
        hours=hours,
        retention_days=retention_days,
        session_days=session_days,
        new_conversations_per_ip=new_conversations_per_ip,
        trusted_proxies=trusted_proxies,
        urgent_keywords=_words(get("SWITCHBOARD_URGENT_KEYWORDS")) or DEFAULT_URGENT_KEYWORDS,
        slack=slack,
        telegram=telegram,
    )


def _words(raw: str | None) -> tuple[str, ...]:
    """A comma-separated list, trimmed and lower-cased, empty entries dropped."""
    return tuple(w.strip().lower() for w in (raw or "").split(",") if w.strip())


def _switch(key: str, raw: str | None, default: bool, problems: list[str]) -> bool:
    if raw is None:
        return default
    value = raw.lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    problems.append(f"{key} must be on or off, got '{raw}'")
    return default


def _hours(raw: str | None, raw_holidays: str | None, problems: list[str]) -> BusinessHours | None:
    holidays: frozenset[date] = frozenset()
    if raw_holidays is not None:
        try:
            holidays = parse_holidays(raw_holidays)
        except ValueError as exc:
            problems.append(f"SWITCHBOARD_HOLIDAYS: {exc}, got '{raw_holidays}'")
        if raw is None:
            problems.append("SWITCHBOARD_HOLIDAYS needs SWITCHBOARD_HOURS (at least a time zone, e.g. Europe/Vilnius)")
    if raw is None:
        return None
    try:
        return parse_hours(raw, holidays)
    except ValueError as exc:
        problems.append(f"SWITCHBOARD_HOURS {exc}, got '{raw}'")
        return None


def _retention_days(raw: str | None, problems: list[str]) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 36500:
        problems.append(f"SWITCHBOARD_RETENTION_DAYS must be a whole number of days (1-36500), got '{raw}'")
        return None
    return int(raw)


def _session_days(raw: str | None, problems: list[str]) -> int:
    if raw is None:
        return SESSION_DAYS
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 3650:
        problems.append(f"SWITCHBOARD_SESSION_DAYS must be a whole number of days (1-3650), got '{raw}'")
        return SESSION_DAYS
    return int(raw)


def _trusted_proxies(raw: str | None, problems: list[str]) -> tuple[IPv4Network | IPv6Network, ...]:
    networks: list[IPv4Network | IPv6Network] = []
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(ip_network(item.strip(), strict=False))
        except ValueError:
            problems.append(
                "SWITCHBOARD_TRUSTED_PROXIES must be comma-separated IP addresses or networks "
                f"(10.0.0.5, 10.0.0.0/8, ::1), got '{item.strip()[:60]}'"
            )
    return tuple(networks)


def _new_conversations_per_ip(raw: str | None, problems: list[str]) -> int:
    if raw is None:
        return NEW_CONVERSATIONS_PER_IP
    if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= 1_000_000:
        problem = "a whole number of new conversations per client address in 12 hours (0: no limit)"
        problems.append(f"SWITCHBOARD_NEW_CONVERSATIONS_PER_IP must be {problem}, got '{raw}'")
        return NEW_CONVERSATIONS_PER_IP
    return int(raw)


def _port(raw: str | None, problems: list[str]) -> int:
    if raw is None:
        return 8080
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        problems.append(f"SWITCHBOARD_PORT must be a port number (1-65535), got '{raw}'")
        return 8080
    return int(raw)


def _slack(get: _Getter, problems: list[str]) -> SlackSettings | None:
    token, secret, channel = get("SLACK_BOT_TOKEN"), get("SLACK_SIGNING_SECRET"), get("SLACK_SUPPORT_CHANNEL")
    before = len(problems)
    if secret is None:
        problems.append("SLACK_SIGNING_SECRET is not set: refusing to accept unsigned Slack requests")
    if token is None:
        problems.append("SLACK_BOT_TOKEN is not set (the bot token starts with xoxb-)")
    elif not token.startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    if channel is None:
        problems.append("SLACK_SUPPORT_CHANNEL is not set (the id of the channel for conversation threads)")
    elif not _SLACK_CHANNEL.fullmatch(channel):
        problems.append(f"SLACK_SUPPORT_CHANNEL must be a channel id like C0123ABCD, got '{channel}'")
    app_token = get("SLACK_APP_TOKEN")
    if app_token is not None and not app_token.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    agent_group = get("SWITCHBOARD_SLACK_AGENT_GROUP")
    if agent_group is not None and not _SLACK_USER_GROUP.fullmatch(agent_group):
        problem = f"a user group id like S0123ABCD (not its @handle), got '{agent_group}'"
        problems.append(f"SWITCHBOARD_SLACK_AGENT_GROUP must be {problem}")
    catch_up_minutes = _catch_up_minutes(get("SWITCHBOARD_SLACK_CATCH_UP_MINUTES"), problems)
    if len(problems) > before:
        return None
    assert token and secret and channel
    return SlackSettings(
        bot_token=token,
        signing_secret=secret,
        support_channel=channel,
        api_url=get("SLACK_API_URL") or DEFAULT_SLACK_API_URL,
        app_token=app_token,
        agent_group=agent_group,
        catch_up_every=timedelta(minutes=catch_up_minutes),
    )


def _catch_up_minutes(raw: str | None, problems: list[str]) -> int:
    if raw is None:
        return SLACK_CATCH_UP_MINUTES
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1440:
        problems.append(f"SWITCHBOARD_SLACK_CATCH_UP_MINUTES must be a whole number of minutes (1-1440), got '{raw}'")
        return SLACK_CATCH_UP_MINUTES
    return int(raw)


def _telegram(get: _Getter, problems: list[str]) -> TelegramSettings | None:
    token = get("TELEGRAM_BOT_TOKEN")
    if token is None:
        return None
    mode = (get("TELEGRAM_MODE") or "webhook").lower()
    secret = get("TELEGRAM_WEBHOOK_SECRET")
    if mode not in ("webhook", "polling"):
        problems.append(f"TELEGRAM_MODE must be 'webhook' or 'polling', got '{mode}'")
    if mode == "webhook" and secret is None:
        problems.append("TELEGRAM_WEBHOOK_SECRET is not set: webhook mode refuses unauthenticated updates")
    if secret is not None and not _TELEGRAM_SECRET.fullmatch(secret):
        problems.append("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    return TelegramSettings(
        bot_token=token,
        mode=mode,
        webhook_secret=secret,
        api_url=get("TELEGRAM_API_URL") or DEFAULT_TELEGRAM_API_URL,
        file_url=get("TELEGRAM_FILE_URL") or DEFAULT_TELEGRAM_FILE_URL,
    )

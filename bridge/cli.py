"""This module contains the ``switchboard`` command: serve, demo, migrate, i18n and contact (export, erase)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bridge import gdpr_cli, i18n_cli
from bridge.config import ConfigError, Settings, SlackSettings, TelegramSettings, database_url
from bridge.ports import ChannelStartupError
from bridge.schema import SchemaOutOfDate, ensure_current, upgrade
from bridge.serve_lock import AnotherBridgeRuns
from bridge.store import default_sqlite_url

log = logging.getLogger("switchboard")
STATIC = Path(__file__).resolve().parents[1] / "channels" / "web" / "static"
DEMO_CHANNEL = "C0SUPPORT"


class CliError(Exception):
    """A problem to report in one line and exit with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per Bot API call, bot token in the URL
    try:
        code = int(args.handler(args))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"switchboard: config error: {problem}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"switchboard: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard", description="Live-chat support bridge: widget and Telegram to Slack."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the bridge with settings from the environment or --config")
    serve.add_argument("--config", type=Path, help="TOML file with settings (lower-case keys)")
    serve.set_defaults(handler=_serve)
    migrate = sub.add_parser("migrate", help="apply database migrations (Alembic)")
    migrate.add_argument("--config", type=Path, help="TOML file with settings (lower-case keys)")
    migrate.set_defaults(handler=_migrate)
    demo = sub.add_parser("demo", help="run the bridge with loopback Slack and Telegram emulators, no accounts needed")
    demo.add_argument("--port", type=int, default=8080, help="bridge port; the emulators use the next ports")
    demo.add_argument("--data-dir", type=Path, default=Path("data"), help="where the SQLite database lives")
    demo.set_defaults(handler=_demo)
    i18n_cli.register(sub)
    gdpr_cli.register(sub)  # contact export / erase
    return parser


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay usable without it
        return asyncio.run(coro)
    return uvloop.run(coro)


def _migrate(args: argparse.Namespace) -> int:
    url = database_url(os.environ, args.config)

    async def run() -> int:
        await _guard_db(upgrade(url), url)
        print(f"switchboard: database is up to date ({_redact(url)})")
        return 0

    return _run(run())


def _serve(args: argparse.Namespace) -> int:
    settings = Settings.load(os.environ, args.config)
    if not settings.allowed_origins:
        log.warning("SWITCHBOARD_ALLOWED_ORIGINS is empty: the widget is refused on every site until you set it")

    async def run() -> int:
        await _guard_db(ensure_current(settings.database_url), settings.database_url)
        from bridge.app import build_app, serve

        app = build_app(settings)
        await _guard_start(serve([(app, settings.host, settings.port)], lambda: _ready(settings)), settings.port)
        return 0

    return _run(run())


def _ready(settings: Settings) -> None:
    print(f"switchboard: listening on http://{settings.host}:{settings.port}", flush=True)


def _demo(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets_file = _demo_secrets(data_dir)
    port: int = args.port
    url = default_sqlite_url(data_dir)
    slack_port, telegram_port = port + 1, port + 2
    telegram_url = f"http://127.0.0.1:{telegram_port}"
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        host="127.0.0.1",
        port=port,
        public_url=f"http://127.0.0.1:{port}",  # the Telegram emulator posts updates to /telegram/webhook here
        allowed_origins=(f"http://127.0.0.1:{port}", f"http://localhost:{port}"),
        slack=SlackSettings(
            bot_token=secrets_file["slack_bot_token"],
            signing_secret=secrets_file["slack_signing_secret"],
            support_channel=DEMO_CHANNEL,
            api_url=f"http://127.0.0.1:{slack_port}/api/",
        ),
        telegram=TelegramSettings(
            bot_token=secrets_file["telegram_bot_token"],
            mode="webhook",
            webhook_secret=secrets_file["telegram_webhook_secret"],
            api_url=f"{telegram_url}/bot",
            file_url=f"{telegram_url}/file/bot",
        ),
    )

    async def run() -> int:
        from bridge.app import build_app, serve
        from bridge.sandbox.slack import SlackEmulator
        from bridge.sandbox.slack_manifest import MANIFEST, read_manifest
        from bridge.sandbox.telegram import TelegramEmulator

        await _guard_db(upgrade(url), url)
        slack = SlackEmulator(
            signing_secret=settings.slack.signing_secret,
            bot_token=settings.slack.bot_token,
            support_channel=DEMO_CHANNEL,
            events_url=f"http://127.0.0.1:{port}/slack/events",
            manifest=read_manifest() if MANIFEST.exists() else None,  # its composer offers the app's commands
        )
        telegram = TelegramEmulator(token=secrets_file["telegram_bot_token"])
        page = demo_page(slack_url=f"http://127.0.0.1:{slack_port}/", telegram_url=f"{telegram_url}/")
        bridge_app = build_app(replace(settings), demo_page=page)
        apps = [  # emulators first: the bridge checks its tokens and registers its webhook as it starts
            (slack.app, "127.0.0.1", slack_port),
            (telegram.app, "127.0.0.1", telegram_port),
            (bridge_app, "127.0.0.1", port),
        ]
        await _guard_start(serve(apps, lambda: _demo_ready(port, slack_port, telegram_port, data_dir)), port)
        return 0

    return _run(run())


def _demo_ready(port: int, slack_port: int, telegram_port: int, data_dir: Path) -> None:
    print(
        "\nSwitchboard demo is running (Ctrl-C to stop; history is kept in "
        f"{data_dir.resolve()}).\n\n"
        "Open these side by side:\n"
        f"  Customer: website with the chat widget   http://127.0.0.1:{port}/\n"
        f"  Customer: Telegram chat with the bot     http://127.0.0.1:{telegram_port}/\n"
        f"  Agent:    emulated Slack workspace       http://127.0.0.1:{slack_port}/\n\n"
        "Then try:\n"
        "  1. Write from the widget (chat bubble) or Telegram: a thread with the customer's card opens in #support.\n"
        "  2. In Slack, click the thread and answer; a reply starting with // is a note the customer never sees,\n"
        "     `!canned order_status order=A-42` sends a canned answer in the customer's language.\n"
        "  3. Use the card: Claim, Priority, Tags, Assign to..., Export (transcript), Close (the customer gets a\n"
        "     1-5 survey; in Telegram, /transcript sends them the conversation).\n"
        "  4. In the #support message box type / for the commands: /stats, /available, /away, /announce.\n"
        "  5. Open Apps > Switchboard in the Slack sidebar: the Home tab with your availability and a chart.\n",
        flush=True,
    )


def demo_page(*, slack_url: str, telegram_url: str = "") -> str:
    page = (STATIC / "demo.html").read_text(encoding="utf-8")
    page = page.replace("{{SLACK_URL}}", slack_url)
    return page.replace("{{TELEGRAM_URL}}", telegram_url) if telegram_url else page  # the page hides {{...}} links


def _demo_secrets(data_dir: Path) -> dict[str, str]:
    """Random demo credentials, made once per data folder so a restart keeps working threads."""
    path = data_dir / "demo-secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text(encoding="utf-8")))
    values = {
        "slack_bot_token": f"xoxb-demo-{secrets.token_hex(8)}",
        "slack_signing_secret": secrets.token_hex(16),
        "telegram_bot_token": f"{secrets.randbelow(10**9)}:DEMO{secrets.token_hex(8)}",
        "telegram_webhook_secret": secrets.token_urlsafe(24),
    }
    path.write_text(json.dumps(values, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return values


async def _guard_db(coro: Coroutine[Any, Any, Any], url: str) -> Any:
    """Turn database errors into one line naming the (password-free) URL."""
    try:
        return await coro
    except SchemaOutOfDate as exc:
        raise CliError(str(exc), code=2) from None
    except (OSError, ConnectionError) as exc:
        raise CliError(f"cannot open the database at {_redact(url)}: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3", "alembic")):
            raise CliError(f"database error at {_redact(url)}: {str(exc).splitlines()[0]}") from None
        raise


async def _guard_start(coro: Coroutine[Any, Any, None], port: int) -> None:
    try:
        await coro
    except (ChannelStartupError, AnotherBridgeRuns) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        if exc.errno == 98:
            raise CliError(f"port {port} (or the next one) is already in use; choose another with --port") from None
        raise CliError(f"cannot start: {exc}") from None


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())

"""The bridge as the benchmark's server process: real app, loopback Slack emulator, migrated database.

Run by ``bench/widget_load.py`` (``python -m bench.bench_server --port P --db URL``); it prints
``ready`` on stdout once both listeners are up and stops cleanly on SIGTERM/SIGINT.

Two bench-only knobs, never product settings:

* the widget's per-session rate limit (100 messages/minute) and the desk's per-conversation one
  (200 messages/minute, ``bridge.abuse``) are raised, because the load generator sends far more
  from each socket than any person could type;
* ``--outbox off`` pauses the delivery worker: every stored message still enqueues its Slack
  delivery in the same transaction, nothing is posted during the run.

The per-address socket cap is left as it is: the load generator spreads its sockets over
several loopback source addresses (127.0.0.N) instead. Each of its sockets is a new visitor, so
the limit of new conversations per address is off (``SWITCHBOARD_NEW_CONVERSATIONS_PER_IP=0``,
a product setting).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import uvloop

from bridge.app import BRIDGE, build_app, serve
from bridge.config import Settings, SlackSettings
from bridge.sandbox.slack import SlackEmulator
from bridge.schema import upgrade

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-bench"
SUPPORT = "C0SUPPORT"


class _PausedOutbox:
    """Stands in for the Outbox when ``--outbox off``: deliveries stay pending in the database."""

    async def __aenter__(self) -> _PausedOutbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def wake(self) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bench_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slack-port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLAlchemy URL (sqlite:///... or postgresql://...)")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--outbox", choices=("on", "off"), default="on")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the whole run here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import bridge.abuse as abuse
    import channels.web.channel as web_channel

    web_channel.MESSAGES_PER_MINUTE = 10**9  # bench-only: see the module docstring
    abuse.MESSAGES_PER_CONVERSATION_PER_MINUTE = 10**9  # read when build_app makes the desk's Limits

    settings = Settings(
        database_url=args.db,
        data_dir=args.data_dir,
        host="127.0.0.1",
        port=args.port,
        allowed_origins=(f"http://127.0.0.1:{args.port}",),
        new_conversations_per_ip=0,  # 20 new visitors per loopback address: see the module docstring
        slack=SlackSettings(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            support_channel=SUPPORT,
            api_url=f"http://127.0.0.1:{args.slack_port}/api/",
        ),
    )

    async def run() -> None:
        await upgrade(args.db)
        slack = SlackEmulator(
            signing_secret=SIGNING_SECRET,
            bot_token=BOT_TOKEN,
            support_channel=SUPPORT,
            events_url=f"http://127.0.0.1:{args.port}/slack/events",
        )
        app = build_app(settings)
        if args.outbox == "off":
            app[BRIDGE].outbox = _PausedOutbox()  # type: ignore[assignment]
        apps = [(slack.app, "127.0.0.1", args.slack_port), (app, "127.0.0.1", args.port)]
        await serve(apps, lambda: print("ready", flush=True))

    profiler: Any = None
    if args.profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        uvloop.run(run())
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

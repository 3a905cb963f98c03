"""Widget sessions expire (reliability target E19): a session whose visitor has not said hello for
SWITCHBOARD_SESSION_DAYS (N) days gets the very ``bad_session`` frame an unknown token gets, and none of the old
visitor's history; each hello renews the session, so a visitor who comes back within N days keeps it for ever.

The clock is the app's (``build_app(clock=...)``): the tests move it instead of waiting. Also here: migration 0006
(``identity.last_seen_at``, NULL read as ``created_at``) on a database that already has visitors, up and down; and
the token never reaching a log line, the access log included (the query-string carrier is refused in
``test_idor.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from bridge.config import SESSION_DAYS, ConfigError, Settings
from bridge.engine import CONTACT, IDENTITY
from bridge.model import as_utc, utcnow
from bridge.schema import alembic_config
from bridge.store import create_engine
from channels.web.sessions import new_token, visitor_id
from tests.support.harness import Harness, running_bridge, running_slack

MARKER = "zq-history-of-the-old-session-7c1"
DAY = timedelta(days=1)
SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_SIGNING_SECRET": "s3cret", "SLACK_SUPPORT_CHANNEL": "C0123ABCD"}


class MovableClock:
    """The app's clock: real time until a test moves it."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def _bridge(db_url: str, tmp_path: Path, clock: MovableClock) -> AsyncIterator[Harness]:
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, clock=clock) as h,
    ):
        yield h


async def _hello(h: Harness, session: str | None, **extra: Any) -> list[dict[str, Any]]:
    """The answers (welcome or error) a fresh socket gets to a hello with ``session`` (asking for all history),
    then, when that was refused, to the hello with session null the widget sends next. Any other frame on the
    socket (a late "delivered") must not carry the marker."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(h.url("/widget/ws"), headers={"Origin": h.origin})
        try:
            answers: list[dict[str, Any]] = []
            hello = {"type": "hello", "session": session, "last_seen": 0, "name": "Ann", "locale": "en", **extra}
            for attempt in (hello, {**hello, "session": None}):
                await ws.send_str(orjson.dumps(attempt).decode())
                while True:
                    async with asyncio.timeout(10):
                        msg = await ws.receive()
                    assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
                    frame = orjson.loads(msg.data)
                    if frame["type"] in ("welcome", "error"):
                        break
                    assert MARKER not in msg.data
                answers.append(frame)
                if frame["type"] == "welcome":
                    break
            return answers
        finally:
            await ws.close()


async def _last_seen(h: Harness, token: str) -> datetime | None:
    row = await h.bridge.store.fetch_one(
        sa.select(IDENTITY.c.last_seen_at).where(IDENTITY.c.external_id == visitor_id(token))
    )
    assert row is not None
    return None if row[0] is None else as_utc(row[0])


async def test_each_hello_renews_the_session_and_an_idle_one_expires(db_url: str, tmp_path: Path) -> None:
    """Before expiry existed a token worked for ever: a leaked or abandoned widget session (a shared computer)
    read its visitor's whole history years later."""
    clock = MovableClock()
    async with _bridge(db_url, tmp_path, clock) as h:
        async with h.widget(name="Ann", locale="en") as ann:
            token = ann.welcome["session"]
            await ann.say(f"my order {MARKER}", "c1")
        assert await _last_seen(h, token) == clock.now

        for _ in range(2):  # N-1 days, then N-1 more: 2N-2 days after the first hello, still valid (renewed)
            clock.now += (SESSION_DAYS - 1) * DAY
            (welcome,) = await _hello(h, token)
            assert welcome["type"] == "welcome" and welcome["session"] == token
            assert [m["text"] for m in welcome["messages"]] == [f"my order {MARKER}"]
            assert await _last_seen(h, token) == clock.now

        clock.now += SESSION_DAYS * DAY + timedelta(minutes=1)
        expired, fresh = await _hello(h, token)
        (unknown, _) = await _hello(h, new_token())
        assert expired == unknown, "an expired session is told apart from an unknown one"
        assert expired["type"] == "error" and expired["code"] == "bad_session"
        # the widget then says hello with session null: a new visitor, with nothing of the old one's
        assert fresh["type"] == "welcome" and fresh["messages"] == [] and fresh["session"] != token
        assert MARKER not in orjson.dumps([expired, fresh]).decode()
        (again,) = await _hello(h, fresh["session"])
        assert again["type"] == "welcome" and again["session"] == fresh["session"]
        # the expired session stays expired: the refused hello renewed nothing
        (still_expired, _) = await _hello(h, token)
        assert still_expired == unknown


async def test_migration_0006_keeps_existing_visitors_by_their_creation_time(db_url: str, tmp_path: Path) -> None:
    """A database from before 0006 has visitors with no ``last_seen_at``: each session then counts from its
    identity's creation, so upgrading neither logs out recent visitors nor revives long-idle ones."""
    config = alembic_config(db_url)
    await asyncio.to_thread(command.upgrade, config, "0005")
    recent, idle = new_token(), new_token()
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            for token, age in ((recent, (SESSION_DAYS - 1) * DAY), (idle, SESSION_DAYS * DAY + timedelta(minutes=1))):
                created = utcnow() - age
                contact_id = (
                    await conn.execute(sa.insert(CONTACT).values(display_name="Old", attributes={}, created_at=created))
                ).inserted_primary_key[0]
                await conn.execute(
                    sa.insert(IDENTITY).values(
                        channel="web", external_id=visitor_id(token), contact_id=contact_id, created_at=created
                    )
                )
    finally:
        await engine.dispose()

    async with _bridge(db_url, tmp_path, MovableClock()) as h:  # running_bridge migrates to head
        assert await _last_seen(h, recent) is None and await _last_seen(h, idle) is None
        (welcome,) = await _hello(h, recent)
        assert welcome["type"] == "welcome" and welcome["session"] == recent
        assert await _last_seen(h, recent) is not None
        refused, _fresh = await _hello(h, idle)
        assert refused["code"] == "bad_session"

    await asyncio.to_thread(command.downgrade, config, "0005")
    assert "last_seen_at" not in await _identity_columns(db_url)
    await asyncio.to_thread(command.upgrade, config, "head")
    assert "last_seen_at" in await _identity_columns(db_url)


async def _identity_columns(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:

            def read(sync_conn: Connection) -> set[str]:
                return {column["name"] for column in sa.inspect(sync_conn).get_columns("identity")}

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def test_the_token_is_in_no_log_line(db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The token travels only in hello and welcome frames, never in a URL or header, so an access log (the test
    server keeps aiohttp's; ``serve`` has none) or a proxy's never holds it; nor does any log line of ours."""
    caplog.set_level(logging.INFO)
    async with _bridge(db_url, tmp_path, MovableClock()) as h:
        async with h.widget(name="Ann", locale="en") as ann:
            token = ann.welcome["session"]
            await ann.say("hello there", "c1")
        (welcome,) = await _hello(h, token)
        assert welcome["type"] == "welcome"
        async with aiohttp.ClientSession() as http, http.get(h.url("/widget.js")) as response:
            await response.read()
        for _ in range(200):  # a socket's access line is written when its handler ends
            access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
            if sum("/widget/ws" in line for line in access) >= 2:
                break
            await asyncio.sleep(0.02)
        assert sum("/widget/ws" in line for line in access) >= 2, access
    leaked = [f"{r.name}: {r.getMessage()}" for r in caplog.records if token in r.getMessage()]
    assert leaked == []


@pytest.mark.parametrize("raw", ["0", "3651", "-1", "ninety", "1.5", "90d"])
def test_a_bad_session_days_setting_is_named(raw: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load({**SLACK_ENV, "SWITCHBOARD_SESSION_DAYS": raw})
    assert refused.value.problems == [f"SWITCHBOARD_SESSION_DAYS must be a whole number of days (1-3650), got '{raw}'"]


def test_session_days_default_and_setting() -> None:
    assert Settings.load(SLACK_ENV).session_days == SESSION_DAYS == 90
    assert Settings.load({**SLACK_ENV, "SWITCHBOARD_SESSION_DAYS": "3650"}).session_days == 3650
    assert Settings.load({**SLACK_ENV, "SWITCHBOARD_SESSION_DAYS": "1"}).session_days == 1

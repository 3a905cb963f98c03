"""One running bridge per database: a second ``serve`` or ``demo`` on it refuses to start, in one line.

Every bridge's outbox posts what is pending in its database, so a second one on the same database would post every
customer message twice and open every thread twice (``bridge.serve_lock``). Without the lock, the second bridge
starts and both tests fail on it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge import serve_lock
from bridge.schema import upgrade
from bridge.serve_lock import AnotherBridgeRuns
from tests.support.databases import database_url
from tests.support.harness import Harness, running_bridge, running_slack
from tests.support.serve_process import ROOT, free_port, serve, serve_env, slack_emulator


async def _say_once(h: Harness, text: str) -> None:
    """A widget customer writes ``text``: it must reach the thread once."""
    async with h.widget(name="Ada") as widget:
        await widget.say(text, "c1")
        await widget.expect("status")  # delivered: posted to Slack
    await h.settled()
    [root] = [m for m in h.slack.channel_messages() if "Ada" in m["text"]][-1:]
    assert [m["text"] for m in h.slack.thread(root["ts"])].count(text) == 1


async def test_a_second_bridge_on_the_same_database_refuses_to_start_and_the_first_goes_on(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_lock, "WAIT", 0.3)  # how long a start keeps trying (5 s)
    async with running_slack() as (slack, slack_server):
        async with running_bridge(db_url, tmp_path, slack, slack_server) as first:
            with pytest.raises(AnotherBridgeRuns, match=r"^another switchboard process is serving the database "):
                async with running_bridge(db_url, tmp_path, slack, slack_server):
                    pass
            slack.events_url = first.url("/slack/events")
            await _say_once(first, "one bridge posts this")
        async with running_bridge(db_url, tmp_path, slack, slack_server) as again:  # the lock went with the first
            await _say_once(again, "and the next one this")


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_second_serve_exits_1_with_one_line_saying_why(kind: str, tmp_path: Path) -> None:
    async with database_url(kind, tmp_path) as url, slack_emulator() as slack:
        await upgrade(url)
        async with serve(url, slack, tmp_path, name="first"):
            second = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bridge.cli", "serve", env=serve_env(url, slack, tmp_path, free_port()),
                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 1
    assert b"listening on" not in out and b"Traceback" not in err
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("switchboard: error: another switchboard process is serving the database ")
    assert last.endswith(": run one per database (a second one would post every message twice); stop it first")


@pytest.mark.postgres
async def test_a_bridge_whose_lock_session_postgresql_ended_still_stops_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A PostgreSQL restart ends the session holding the advisory lock (and the lock with it): the bridge's stop
    must not fail on unlocking it."""
    caplog.set_level(logging.INFO, logger="switchboard.serve_lock")
    async with database_url("postgres", tmp_path) as url, running_slack() as (slack, slack_server):
        async with running_bridge(url, tmp_path, slack, slack_server) as h:
            ended = await h.bridge.store.fetch_all(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND (classid::bigint << 32) + objid::bigint = :key"
                ).bindparams(key=serve_lock.KEY)
            )
            assert [tuple(row) for row in ended] == [(True,)]
    assert "serve lock: its session had ended already" in caplog.text

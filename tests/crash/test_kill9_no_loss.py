"""kill -9 at random moments while ~1,000 widget messages are being posted to Slack (reliability target C11).

The real ``switchboard serve`` runs as a subprocess against the Slack emulator in this process and is killed with
SIGKILL at a moment drawn from a seeded RNG, several times over the same database. Each run first tops the queue
for Slack up to 1,000 messages from new widget visitors; a last start delivers what is left. Then every
acknowledged message must be in Slack exactly once, in its conversation's thread and order, and no idempotency key
(carried in Slack message metadata) and no conversation card may appear twice.

A kill between Slack's accept and our "sent" mark is the case that needs ``channels.slack.reconcile``: a plain
resend would post the message again. Half the runs (seeded) make the emulator answer late after accepting, so
several kills land there for sure; the test counts and prints them, and insists on at least one.

The target asks for 20 runs; CI runs ``RUNS[kind]`` (6 on SQLite, 3 on PostgreSQL) to keep both under about a
minute together on a 2-core machine. ``SWITCHBOARD_CRASH_RUNS=20`` runs the full count.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from bridge.schema import upgrade
from tests.support.databases import database_url
from tests.support.serve_process import (
    Posted,
    Visitor,
    all_posted,
    check_delivered,
    posted,
    push,
    query,
    serve,
    slack_emulator,
    wait_until,
)

SEED = 20261124
RUNS = {"sqlite": 6, "postgres": 3}
BACKLOG = 1000  # every run tops the queue for Slack up to this many (the first run: 20 visitors x 50 messages)
PER_SOCKET = 50  # messages per new visitor; the widget takes 100 a minute per socket and 20 sockets per IP
MIN_VISITORS = 2  # new visitors per run at least: new conversations, so kills also meet cards being posted
KILL_WITHIN = 1.2  # seconds after the run's first post; the kill moment is uniform in [0, KILL_WITHIN]
LATE_ANSWER = 0.3  # seconds the emulator holds its answer after accepting a post, in the "late answer" runs
PENDING = "SELECT idempotency_key FROM delivery WHERE status = 'pending' AND target_channel = 'slack'"
NO_THREAD = "SELECT id FROM conversation WHERE slack_thread_ts IS NULL"


def _runs(kind: str) -> int:
    return int(os.environ.get("SWITCHBOARD_CRASH_RUNS") or RUNS[kind])


async def _in_window(url: str, found: Posted) -> tuple[int, int, int]:
    """After a kill: (deliveries still pending, deliveries Slack holds that are not marked sent, cards Slack holds
    whose conversation has no thread stored): the last two are the posts a plain resend would duplicate."""
    pending = {row[0] for row in await query(url, PENDING)}
    accepted = {key.rsplit("#", 1)[0] for key in found.keys}
    no_thread = {row[0] for row in await query(url, NO_THREAD)}
    return len(pending), len(pending & accepted), len(no_thread & set(found.cards))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_kill_9_during_deliveries_loses_nothing_and_posts_nothing_twice(kind: str, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    visitors: dict[tuple[int, int], Visitor] = {}
    report: list[str] = []
    kills_in_window = 0
    async with database_url(kind, tmp_path) as url, slack_emulator() as slack:
        await upgrade(url)
        for run in range(_runs(kind)):
            slack.recover()
            late = rng.random() < 0.5
            if late:
                slack.answer_late("chat.postMessage", LATE_ANSWER, count=1_000_000)
            posts_before = len(slack.calls_to("chat.postMessage"))
            queued = len(await query(url, PENDING))
            sockets = min(20, max(MIN_VISITORS, -(-(BACKLOG - queued) // PER_SOCKET)))
            async with serve(url, slack, tmp_path, name=f"run{run}") as served:
                pushing = asyncio.create_task(push(served, run=run, sockets=sockets, per_socket=PER_SOCKET))
                if run == 0:
                    await pushing
                started = lambda before=posts_before: len(slack.calls_to("chat.postMessage")) > before  # noqa: E731
                await wait_until(started, 30, "first post")
                await asyncio.sleep(rng.uniform(0.0, KILL_WITHIN))
                served.process.kill()
                await served.process.wait()
                for n, visitor in enumerate(await pushing):
                    visitors[(run, n)] = visitor
            await slack.drain()  # posts that were on the wire when the process died land now, as they would
            queued, accepted, cards = await _in_window(url, posted(slack))
            kills_in_window += accepted > 0 or cards > 0
            report.append(
                f"run {run} ({'late answers' if late else 'prompt answers'}): killed with {queued} queued; "
                f"{accepted} posts and {cards} cards accepted by Slack but not marked sent"
            )

        slack.recover()
        async with serve(url, slack, tmp_path, name="final") as final:
            await wait_until(lambda: all_posted(visitors, posted(slack)), 60, "all posted", every=0.5)
            await wait_until_no_pending(url)
            code, _ = await final.stop(signal.SIGTERM)
            assert code == 0, final.log_tail()

    found = posted(slack)
    acked = sum(len(v.acked) for v in visitors.values())
    print(f"\nC11 {kind}: {len(report)} kill -9 runs (seed {SEED}), {acked} acknowledged messages")
    print("\n".join(report))
    print(f"kills that landed between Slack's accept and the sent mark: {kills_in_window}/{len(report)}")
    assert check_delivered(visitors, found) == [], "lost, duplicated or reordered messages"
    assert [key for key, n in Counter(found.keys).items() if n > 1] == [], "a delivery was posted twice"
    assert [c for c, n in Counter(found.cards).items() if n > 1] == [], "a conversation got two threads"
    assert kills_in_window > 0, "no kill landed in the window the test is about"


async def wait_until_no_pending(url: str) -> None:
    """Poll the database the bridge process writes (no event crosses the process boundary)."""
    async with asyncio.timeout(30):
        while await query(url, PENDING):  # noqa: ASYNC110
            await asyncio.sleep(0.5)

"""Background: follow-up Slack work runs after the listener returns, is logged when it fails, and ends on close."""

from __future__ import annotations

import asyncio
import logging

import pytest

from channels.slack.background import Background


async def test_work_runs_after_spawn_and_its_task_is_kept_until_done() -> None:
    background = Background(grace=1.0)
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0)
        done.set()

    task = background.spawn(work(), what="publish a view")
    assert task is not None and background.pending == 1
    await asyncio.wait_for(done.wait(), 1.0)
    await task
    assert background.pending == 0
    await background.close()


async def test_a_failure_is_logged_with_what_failed(caplog: pytest.LogCaptureFixture) -> None:
    background = Background(grace=1.0)

    async def boom() -> None:
        raise RuntimeError("views.publish exploded")

    task = background.spawn(boom(), what="publish U1's Home tab")
    assert task is not None
    with caplog.at_level(logging.ERROR, logger="switchboard.slack.background"):
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    [record] = [r for r in caplog.records if r.name == "switchboard.slack.background"]
    assert "publish U1's Home tab" in record.getMessage()
    assert record.exc_info is not None and "views.publish exploded" in str(record.exc_info[1])
    assert background.pending == 0
    await background.close()


async def test_close_lets_quick_work_finish_cancels_the_rest_and_refuses_new_work() -> None:
    background = Background(grace=0.2)
    finished: list[str] = []
    cancelled: list[str] = []

    async def work(name: str, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        finished.append(name)

    background.spawn(work("quick", 0.01), what="quick")
    background.spawn(work("slow", 30), what="slow")

    loop = asyncio.get_running_loop()
    started = loop.time()
    await background.close()
    assert loop.time() - started < 2
    assert (finished, cancelled, background.pending) == (["quick"], ["slow"], 0)

    late = work("late", 0)
    assert background.spawn(late, what="late") is None  # closed: the coroutine is closed, never run
    assert late.cr_frame is None and finished == ["quick"]

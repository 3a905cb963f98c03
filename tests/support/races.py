"""Races made to happen on purpose: hold a store's writer, and wait until the bridge's work is at a given point.

A race between two flows of the bridge (a close and a customer's message, two copies of one message) depends on
what reaches the single writer first. ``writer_held`` stops the writer with a job of the test's own, so what the
bridge queues meanwhile waits behind it, in order; ``until_suspended_in`` waits until a flow has got far enough
(suspended inside a given coroutine function, optionally waiting for the writer to commit a job it queued), read
from the running tasks' await chains: nothing of the bridge is replaced or patched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from types import CodeType, FrameType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.store import GroupCommitWriter, Store

__all__ = ["WAIT", "until_suspended_in", "writer_held"]

WAIT = 5.0  # seconds ``until_suspended_in`` waits before it fails the test


@asynccontextmanager
async def writer_held(store: Store) -> AsyncIterator[None]:
    """Keep ``store``'s writer busy with a job that waits for the end of the block; what the bridge queues
    meanwhile is committed after it, in the order it was queued."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold(_conn: AsyncConnection) -> None:  # runs no statement: takes no database lock
        holding.set()
        await release.wait()

    held = store.writer.submit_job(hold)
    await holding.wait()
    try:
        yield
    finally:
        release.set()
        await held


async def until_suspended_in(function: Callable[..., Any], *, waiting_for: GroupCommitWriter | None = None) -> None:
    """Wait (up to ``WAIT`` s) until some task is suspended inside the coroutine function ``function``
    (``Desk.close``...) and, with ``waiting_for``, awaits that writer's ``run`` there: the job it submitted is
    queued, not committed yet."""
    async with asyncio.timeout(WAIT):
        while True:
            if any(_suspended_in(task, function.__code__, waiting_for) for task in asyncio.all_tasks()):
                return
            await asyncio.sleep(0.002)  # polled: a task's progress raises no event the test could wait for


def _suspended_in(task: asyncio.Task[Any], code: CodeType, writer: GroupCommitWriter | None) -> bool:
    inside = False
    for frame in _await_chain(task):
        if frame.f_code is code:
            inside = True
            if writer is None:
                return True
        elif inside and frame.f_code is GroupCommitWriter.run.__code__ and frame.f_locals.get("self") is writer:
            return True
    return False


def _await_chain(task: asyncio.Task[Any]) -> Iterator[FrameType]:
    """The frames of the coroutines ``task`` is suspended in, outermost first (``cr_await`` down to a future)."""
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            return
        yield frame
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)

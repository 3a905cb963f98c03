"""This module contains Background: the Slack follow-up work that must not hold back Slack's 2xx.

Bolt runs with ``process_before_response=True``: Slack gets its answer only when a listener returns, retries an
event not answered within 3 s (a duplicate) and shows the user an error for a slow interaction. So listeners
store, validate and ack, and hand the follow-up Slack calls (``views.publish``, ``chat.update`` of a card, a file
upload, an ephemeral answer) to ``Background.spawn``. It keeps a reference to every task (the event loop keeps only
weak ones), logs the exceptions nobody awaits, and on ``close`` (``SlackChannel.__aexit__``, before the HTTP
session closes) gives running work a short grace period, then cancels what is left and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, final

log = logging.getLogger("switchboard.slack.background")

GRACE = 2.0  # seconds running work may take to finish when the channel stops


@final
class Background:
    """The Slack channel's follow-up tasks: started by listeners, owned (and ended) by the channel."""

    def __init__(self, *, grace: float | None = None) -> None:
        self._grace = GRACE if grace is None else grace
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def pending(self) -> int:
        """How many tasks have not finished yet."""
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], *, what: str) -> asyncio.Task[None] | None:
        """Run ``work`` after the listener returns; ``what`` names it in logs. None (``work`` dropped) once closed."""
        if self._closed:
            work.close()
            log.warning("slack: stopping, dropped %s", what)
            return None
        task = asyncio.create_task(work, name=what)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("slack: %s failed", task.get_name(), exc_info=exc)

    async def close(self) -> None:
        """Refuse new work; wait up to the grace period for running work, then cancel the rest and wait for it."""
        self._closed = True
        if not self._tasks:
            return
        _finished, late = await asyncio.wait(set(self._tasks), timeout=self._grace)
        for task in late:
            log.warning("slack: stopping, cancelled %s", task.get_name())
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

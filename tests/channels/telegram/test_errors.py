"""Tests of the mapping from python-telegram-bot errors to the bridge's delivery errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut

from bridge.events import RetryLater, Undeliverable
from channels.telegram.errors import to_delivery_error


@pytest.mark.parametrize("env", ["1", "false"])
def test_retry_after_keeps_the_wait_whatever_ptb_timedelta_says(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    exc = RetryAfter(timedelta(seconds=7))
    monkeypatch.setenv("PTB_TIMEDELTA", env)
    error = to_delivery_error(exc)
    assert isinstance(error, RetryLater)
    assert error.retry_after == timedelta(seconds=7)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), Undeliverable),
        (ChatMigrated(-1001), Undeliverable),
        (BadRequest("Bad Request: chat not found"), Undeliverable),
        (Conflict("Conflict: terminated by other getUpdates request"), Undeliverable),
        (TimedOut(), RetryLater),
        (NetworkError("httpx.ConnectError: refused"), RetryLater),
        (OSError("connection reset"), RetryLater),
    ],
)
def test_error_kinds(exc: Exception, kind: type[Exception]) -> None:
    error = to_delivery_error(exc)
    assert isinstance(error, kind)
    if isinstance(error, RetryLater):
        assert error.retry_after is None  # transient: the outbox backs off and counts the attempt


def test_blocked_reason_is_kept() -> None:
    error = to_delivery_error(Forbidden("Forbidden: bot was blocked by the user"))
    assert isinstance(error, Undeliverable)
    assert "blocked by the user" in error.reason

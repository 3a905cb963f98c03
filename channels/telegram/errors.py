"""This module maps python-telegram-bot errors to the bridge's delivery errors, in one place."""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    PassportDecryptionError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bridge.events import BlockedByCustomer, DeliveryError, RetryLater, Undeliverable


def to_delivery_error(exc: BaseException) -> DeliveryError:
    """A PTB (or network) exception -> ``RetryLater`` (429 waits ``retry_after``) or ``Undeliverable``."""
    match exc:
        case RetryAfter():
            return RetryLater("telegram flood control", retry_after=retry_after(exc))
        case Forbidden() if "blocked by the user" in exc.message:
            return BlockedByCustomer(f"telegram: {exc.message}")
        case Forbidden():
            return Undeliverable(f"telegram: {exc.message}")
        case ChatMigrated():
            return Undeliverable(f"telegram: chat migrated to {exc.new_chat_id}")
        case InvalidToken() | EndPointNotFound() | PassportDecryptionError() | Conflict():
            return Undeliverable(f"telegram: {type(exc).__name__}: {exc}")
        case BadRequest():  # 400: the same request fails the same way (chat not found, too long ...)
            return Undeliverable(f"telegram: {exc.message}")
        case TimedOut() | NetworkError():  # TimedOut first documents intent; it is a NetworkError
            return RetryLater(f"telegram unreachable: {exc}")
        case TelegramError():
            return RetryLater(f"telegram: {exc}")
        case _:
            return RetryLater(f"{type(exc).__name__}: {exc}")


def retry_after(exc: RetryAfter) -> timedelta:
    """The wait a 429 asks for, as a timedelta whatever ``PTB_TIMEDELTA`` says."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=value)

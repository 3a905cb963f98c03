"""This module maps Slack client errors to the bridge's delivery errors, in one place."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError

from bridge.events import DeliveryError, RetryLater, Undeliverable

# Errors that no retry can fix: configuration or content problems.
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "cant_update_message",
        "message_not_found",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
    }
)


def to_delivery_error(exc: Exception) -> DeliveryError:
    """A Slack or network exception -> ``RetryLater`` (429 waits ``Retry-After``) or ``Undeliverable``."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = str(response.get("error", "unknown_error")) if isinstance(response.data, dict) else "bad_response"
        if response.status_code == 429 or error == "ratelimited":
            retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after") or "1"
            seconds = int(retry_after) if str(retry_after).isdigit() else 1
            return RetryLater("slack rate limit", retry_after=timedelta(seconds=seconds))
        if error in PERMANENT:
            return Undeliverable(f"slack: {error}")
        return RetryLater(f"slack: {error} (HTTP {response.status_code})")
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return RetryLater(f"slack unreachable: {type(exc).__name__}")
    return RetryLater(f"{type(exc).__name__}: {exc}")

"""This module contains the deletion of a person's Slack copies for ``switchboard contact erase``.

The bot deletes what it posted itself: each of the person's conversation threads is read (``conversations.replies``)
and every reply by our bot goes (``chat.delete``; files it uploaded there, a customer's photo say, first with
``files.delete``), then the root card. The posts the outbox recorded (deliveries' ``remote_id``) are deleted too,
should a thread read miss one. A bot token cannot delete what people wrote: the agents' replies and files in those
threads stay, and are listed as leftovers for a workspace admin.

Deleting the card and the posts also deletes their metadata, the delivery keys (``m<message id>.<n>``) that
``channels/slack/reconcile.py`` looks for after a crash; and a thread is only ever searched for its own
conversation's keys, whose ids are never reused (migration 0005).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bridge.config import SlackSettings
from bridge.gdpr import CopiesErased, Leftover, PlatformCopies, SlackThread
from channels.slack.reconcile import read_pages

__all__ = ["erase_slack_copies", "eraser_client"]

GONE = frozenset({"message_not_found", "thread_not_found", "file_not_found", "file_deleted"})
"""Errors that mean the copy is not there (deleted before, by a person or an earlier erase that stopped midway)."""


def eraser_client(settings: SlackSettings) -> AsyncWebClient:
    """A Web API client that waits out ``429 Retry-After`` (``chat.delete`` is Tier 3: about 50 a minute)."""
    client = AsyncWebClient(token=settings.bot_token, base_url=settings.api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=10))
    return client


async def erase_slack_copies(client: AsyncWebClient, copies: PlatformCopies, *, support_channel: str) -> CopiesErased:
    """Delete our bot's posts in the person's threads, and their root cards; list what stays.

    Raises:
        SlackApiError, aiohttp.ClientError: ``auth.test`` failed (nothing was deleted then).
    """
    auth = await client.auth_test()
    own = frozenset(str(auth.get(key) or "") for key in ("user_id", "bot_id")) - {""}
    bot_user = str(auth.get("user_id") or "")
    eraser = _Eraser(client, own, bot_user)
    for thread in copies.slack_threads:
        await eraser.thread(thread, thread.channel or support_channel)
    for channel, ts in copies.slack_orphans:
        await eraser.delete(channel or support_channel, ts, where=f"message {ts}")
    return eraser.result


class _Eraser:
    def __init__(self, client: AsyncWebClient, own: frozenset[str], bot_user: str) -> None:
        self._client = client
        self._own = own
        self._bot_user = bot_user
        self.result = CopiesErased()

    async def thread(self, thread: SlackThread, channel: str) -> None:
        """The thread's bot replies (newest first), the posts the outbox recorded, then the root card."""
        where = f"thread {thread.thread_ts} (conversation #{thread.conversation_id}) in {channel}"
        ours: list[Mapping[str, Any]] = []
        try:
            pages = read_pages(self._client.conversations_replies, channel=channel, ts=thread.thread_ts)
            async for message in (message async for page in pages for message in page):
                if message.get("ts") == thread.thread_ts:
                    continue
                if message.get("user") in self._own or message.get("bot_id") in self._own:
                    ours.append(message)
                elif message.get("subtype") != "tombstone":
                    self._leftover(
                        f"message {message.get('ts')} in {where}",
                        f"written by {message.get('user') or 'someone else'}: a bot token cannot delete people's "
                        "messages (a workspace admin can)",
                    )
        except SlackApiError as exc:
            if _error(exc) not in GONE:
                self._leftover(where, f"the thread could not be read ({_error(exc)}): only the recorded posts tried")
        except aiohttp.ClientError as exc:
            self._leftover(where, f"the thread could not be read ({exc}): only the recorded posts tried")
        seen = {str(message.get("ts")) for message in ours}
        for message in reversed(ours):
            await self._files(message, where)
            await self.delete(channel, str(message["ts"]), where=f"message {message['ts']} in {where}")
        for ts in thread.posted:
            if ts not in seen and ts != thread.thread_ts:
                await self.delete(channel, ts, where=f"message {ts} in {where}")
        await self.delete(channel, thread.thread_ts, where=f"root card of {where}")

    async def _files(self, message: Mapping[str, Any], where: str) -> None:
        """Files our bot uploaded with ``message`` (a customer's attachment, a transcript)."""
        for file in message.get("files") or ():
            if not isinstance(file, Mapping) or not file.get("id") or file.get("mode") == "tombstone":
                continue
            if file.get("user") not in (None, self._bot_user):
                continue
            try:
                await self._client.files_delete(file=str(file["id"]))
            except SlackApiError as exc:
                if _error(exc) not in GONE:
                    self._leftover(f"file {file['id']} in {where}", f"files.delete failed: {_error(exc)}")
                continue
            except aiohttp.ClientError as exc:
                self._leftover(f"file {file['id']} in {where}", f"files.delete failed: {exc}")
                continue
            self.result.files_deleted += 1

    async def delete(self, channel: str, ts: str, *, where: str) -> None:
        try:
            await self._client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            if _error(exc) not in GONE:
                self._leftover(where, f"chat.delete failed: {_error(exc)}")
            return
        except aiohttp.ClientError as exc:
            self._leftover(where, f"chat.delete failed: {exc}")
            return
        self.result.deleted += 1

    def _leftover(self, where: str, reason: str) -> None:
        self.result.leftovers.append(Leftover(platform="slack", where=where, reason=reason))


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc) if exc.response is not None else str(exc)

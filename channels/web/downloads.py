"""This module contains the widget's file downloads over HTTP: ``POST /widget/file``.

The contract (the widget is built against it; docs/widget-protocol.md has it too):

- ``POST /widget/file`` with the body ``{"message_id": ID, "index": N}`` (the ``N``-th entry of that message's
  ``attachments``, from 0) and the headers ``Origin`` (the same allowlist as the WebSocket's) and
  ``X-Switchboard-Session: <session token>`` (checked as uploads check it; never in the URL).
- Success: ``200`` with the file's bytes, ``Content-Type`` its stored media type, ``Content-Disposition: attachment;
  filename*=UTF-8''<percent-encoded name>``, ``X-Content-Type-Options: nosniff`` and ``Cache-Control: private,
  no-store`` (reliability target G26); ``Access-Control-Expose-Headers: Content-Disposition`` lets the widget read
  the name.
- The message must be in a conversation of this visitor and not an internal note (``customer_history``, the rule
  the welcome's history follows): a missing message, another visitor's, a note and an index the message has no file
  at all get the same 404 ``not_found``. A file the platform no longer has: 404 ``gone`` with the reason; one it
  cannot give now (Slack unreachable, a 5xx): 503 ``unavailable``.
- Other refusals answer ``{"error": CODE, "reason": TEXT}``: 403 ``bad_origin``; 401 ``bad_session``; 429
  ``rate_limited`` (more than 30 downloads a minute by one visitor, refused ones included); 400 ``bad_request`` (the
  body is not that JSON object). ``OPTIONS /widget/file`` answers the CORS preflight.
"""

from __future__ import annotations

from typing import final
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp import web

from bridge.abuse import PerMinute
from bridge.attachments import AttachmentUnavailable, Fetchers
from bridge.events import Attachment, ChannelKind, ExternalRef
from bridge.history import customer_history
from bridge.store import Store
from channels.web.middleware import OriginCheck
from channels.web.visitor_http import (
    SESSION_HEADER,
    Authenticate,
    Refused,
    preflight,
    visitor_route,
)

__all__ = ["DOWNLOADS_PER_MINUTE", "WidgetDownloads"]

FILE_PATH = "/widget/file"
DOWNLOADS_PER_MINUTE = 30  # per visitor (session)
MAX_ID = 2**31 - 1  # the largest message number (an INTEGER column)
_MAX_BODY = 1024
_PREFLIGHT = {
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": f"Content-Type, {SESSION_HEADER}",
    "Access-Control-Max-Age": "600",
}


@final
class WidgetDownloads:
    """The download route: a file of one of the visitor's own messages, or of a message sent to them."""

    def __init__(
        self,
        *,
        store: Store,
        fetchers: Fetchers,
        origins: OriginCheck,
        authenticate: Authenticate,
        per_minute: int = DOWNLOADS_PER_MINUTE,
    ) -> None:
        self._store = store
        self._fetchers = fetchers
        self._origins = origins
        self._authenticate = authenticate
        self._recent = PerMinute(per_minute)  # downloads per visitor, in one-minute buckets

    def routes(self) -> list[web.RouteDef]:
        return [web.post(FILE_PATH, self._download), web.options(FILE_PATH, self._preflight)]

    async def _preflight(self, request: web.Request) -> web.Response:
        return preflight(self._origins, request, _PREFLIGHT)

    async def _download(self, request: web.Request) -> web.Response:
        return await visitor_route(request, self._origins, self._authenticate, self._recent, self._file)

    async def _file(self, request: web.Request, visitor: str, cors: dict[str, str]) -> web.Response:
        message_id, index = await _asked(request)
        attachment = await self._attachment(visitor, message_id, index)
        try:
            data, _fetched_type = await self._fetchers.fetch(attachment)
        except AttachmentUnavailable as exc:
            raise Refused(404, "gone", exc.label) from None
        except (aiohttp.ClientError, TimeoutError):  # the platform keeping it did not answer: transient
            raise Refused(503, "unavailable", "the file cannot be fetched right now; try again later") from None
        headers = {
            **cors,
            "Content-Type": attachment.media_type or "application/octet-stream",  # as stored (parameters included)
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.name, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Access-Control-Expose-Headers": "Content-Disposition",
        }
        return web.Response(body=data, headers=headers)

    async def _attachment(self, visitor: str, message_id: int, index: int) -> Attachment:
        """File ``index`` of message ``message_id`` when the visitor may read that message (``customer_history``:
        their conversations, no notes, nothing deleted); every other case is the same ``not_found``."""
        if not 1 <= message_id <= MAX_ID:
            raise _not_found()
        ref = ExternalRef(channel=ChannelKind.WEB, external_id=visitor)
        found = await customer_history(self._store, ref, after_id=message_id - 1, limit=1)
        if not found or found[0].id != message_id or not 0 <= index < len(found[0].attachments):
            raise _not_found()
        return found[0].attachments[index]


async def _asked(request: web.Request) -> tuple[int, int]:
    """``(message_id, index)`` of the body ``{"message_id": INT, "index": INT}``; Refused 400 for anything else."""
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise _bad_request()
    body = await request.read()  # chunked: at most the app's client_max_size
    if len(body) > _MAX_BODY:
        raise _bad_request()
    try:
        asked = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad_request() from None
    if not isinstance(asked, dict) or set(asked) != {"message_id", "index"}:
        raise _bad_request()
    message_id, index = asked["message_id"], asked["index"]
    if type(message_id) is not int or type(index) is not int:
        raise _bad_request()
    return message_id, index


def _not_found() -> Refused:
    return Refused(404, "not_found", "no such file in your conversations")


def _bad_request() -> Refused:
    return Refused(400, "bad_request", 'send {"message_id": INT, "index": INT} (at most 1 KB of JSON)')

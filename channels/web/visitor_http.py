"""This module contains what the widget's HTTP routes for files share (``uploads``, ``downloads``): the origin
check with its CORS headers, the session carried in ``X-Switchboard-Session`` (never in the URL), a per-visitor
limit, and refusals answered as ``{"error": CODE, "reason": TEXT}`` with nothing stored (``visitor_route`` puts them
together)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web

from bridge.abuse import PerMinute
from channels.web.middleware import OriginCheck

__all__ = [
    "SESSION_HEADER",
    "Authenticate",
    "Refused",
    "bad_origin",
    "cors_headers",
    "json_response",
    "preflight",
    "visitor_route",
]

SESSION_HEADER = "X-Switchboard-Session"
_TOKEN_CHARS = range(20, 101)  # as hello's session (channels.web.protocol)

Authenticate = Callable[[str], Awaitable[str | None]]
"""A session token -> its visitor's id, or None when the session is unknown or expired."""
Answer = Callable[[web.Request, str, dict[str, str]], Awaitable[web.Response]]
"""(the request, its visitor, the CORS headers to send) -> the route's answer; it raises ``Refused`` to refuse."""


class Refused(Exception):
    """A request refused: the answer to give, with nothing stored."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason

    def response(self, cors: dict[str, str]) -> web.Response:
        return json_response(self.status, {"error": self.code, "reason": self.reason}, cors)


def cors_headers(origins: OriginCheck, request: web.Request) -> dict[str, str] | None:
    """The CORS headers for the request's allowed ``Origin``; None when it has none or another one."""
    if not origins.allows(request):
        return None
    return {"Access-Control-Allow-Origin": request.headers["Origin"], "Vary": "Origin"}


def preflight(origins: OriginCheck, request: web.Request, allowed: Mapping[str, str]) -> web.Response:
    """The answer to a CORS preflight: 204 with ``allowed`` (methods, headers) for an allowed origin, else 403."""
    cors = cors_headers(origins, request)
    if cors is None:
        return bad_origin()
    return web.Response(status=204, headers={**cors, **allowed})


async def _admitted(request: web.Request, authenticate: Authenticate, recent: PerMinute) -> str:
    """The visitor of the request's ``X-Switchboard-Session``, within ``recent``'s per-minute limit (each request
    counts, refused ones included); Refused 401 ``bad_session`` or 429 ``rate_limited``."""
    token = request.headers.get(SESSION_HEADER, "")
    visitor = await authenticate(token) if len(token) in _TOKEN_CHARS else None
    if visitor is None:
        raise Refused(401, "bad_session", f"unknown or expired session: send hello, then {SESSION_HEADER}")
    if not recent.allow(visitor):
        raise Refused(429, "rate_limited", f"more than {recent.limit} files a minute; wait a moment")
    return visitor


async def visitor_route(
    request: web.Request, origins: OriginCheck, authenticate: Authenticate, recent: PerMinute, answer: Answer
) -> web.Response:
    """A file route: 403 ``bad_origin`` for a foreign origin, then the visitor (``_admitted``), then ``answer``; a
    ``Refused`` on the way is answered with its code and reason, and the CORS headers."""
    cors = cors_headers(origins, request)
    if cors is None:
        return bad_origin()
    try:
        visitor = await _admitted(request, authenticate, recent)
        return await answer(request, visitor, cors)
    except Refused as refused:
        return refused.response(cors)


def bad_origin() -> web.Response:
    return json_response(403, {"error": "bad_origin", "reason": "this site may not send or read the chat's files"}, {})


def json_response(status: int, body: dict[str, object], headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=headers)

"""This module contains the widget's file uploads over HTTP: ``POST /widget/upload``.

The contract (the widget is built against it; docs/widget-protocol.md has it too):

- ``POST /widget/upload``: the body is the file's raw bytes (``fetch(url, {method: "POST", body: file, headers})``),
  with the headers ``Origin`` (the same allowlist as the WebSocket's), ``X-Switchboard-Session: <session token>``
  (the widget's session, checked as hello checks it, expiry included; never in the URL), ``Content-Type:
  <declared media type>`` and ``X-Filename: <percent-encoded UTF-8 file name>``.
- Success: ``201 {"upload": ID, "name": LABEL, "size": N, "media_type": TYPE}``. ``ID`` is random (144 bits,
  URL-safe) and the file is stored under it; ``LABEL`` is the file name made safe to show (``display_name``),
  never used as a path. The widget then sends ``{"type": "message", "client_id": ..., "text": ...,
  "attachments": [ID, ...]}`` (at most 15 ids; ``text`` may then be empty).
- Refusals store nothing and answer ``{"error": CODE, "reason": TEXT}``: 403 ``bad_origin``; 401 ``bad_session``
  (missing, unknown or expired token); 429 ``rate_limited`` (more than 20 uploads a minute by one visitor); 413
  ``file_too_large`` (more than 40 MB = 41,943,040 bytes: the body is read no further); 415 ``unsupported_type``
  (allowed: PNG, JPEG, GIF, WebP, PDF by their magic bytes, and ``text/plain`` that is UTF-8 without NUL; the bytes
  must agree with the declared type); 400 ``empty_file``; 429 ``quota_exceeded`` when the client's address
  (``SWITCHBOARD_TRUSTED_PROXIES`` says which) has uploaded ``UPLOAD_BYTES_PER_HOUR``, 1 GB, within the hour (a
  file counts its declared length, or 40 MB without one, until it is stored); 507 ``insufficient_storage`` (the
  file would leave less than ``DISK_RESERVE_BYTES``, 1 GB, free on the disk: the database lives beside the
  uploads).
- ``OPTIONS /widget/upload`` answers the CORS preflight for an allowed ``Origin`` (the widget runs on the host's
  site, the bridge on its own); every answer to an allowed origin carries ``Access-Control-Allow-Origin``, so the
  widget can read the refusals too. No cookies are involved: the session travels in its header.
- No route takes an upload id in its URL (``tests/scenarios/test_idor.py`` pins the route table): a visitor's
  history lists their files by name, type and size; agents get the bytes in the Slack thread, and the visitor by the
  message's id (``POST /widget/file``, channels/web/downloads.py).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from typing import final
from urllib.parse import unquote

from aiohttp import web

from bridge.abuse import BytesPerHour, PerMinute
from bridge.events import Attachment
from bridge.upload_files import StoredUpload, UploadFiles
from channels.web.middleware import OriginCheck
from channels.web.sniff import ALLOWED_TYPES, SNIFF_BYTES, TEXT, TextCheck, sniff
from channels.web.visitor_http import (
    SESSION_HEADER,
    Authenticate,
    Refused,
    json_response,
    preflight,
    visitor_route,
)

__all__ = [
    "DISK_RESERVE_BYTES",
    "MAX_NAME_CHARS",
    "MAX_UPLOAD_BYTES",
    "UPLOADS_PER_MINUTE",
    "UPLOAD_BYTES_PER_HOUR",
    "WidgetUploads",
    "display_name",
]

log = logging.getLogger("switchboard.web.uploads")

UPLOAD_PATH = "/widget/upload"
MAX_UPLOAD_BYTES = 40 * 1024 * 1024  # Chatwoot's cap (reliability target G26)
UPLOADS_PER_MINUTE = 20  # per visitor (session)
# Per client address: a visitor can make new sessions, so only this stops one network filling the disk down to the
# reserve below (25 files of 40 MB an hour).
UPLOAD_BYTES_PER_HOUR = 1024**3
# Uploads never take the disk below this much free space: the database lives beside them (by default in the same
# data folder), and a full disk would stop it storing customers' messages.
DISK_RESERVE_BYTES = 1024**3
MAX_NAME_CHARS = 100
_CHUNK = 256 * 1024
_UNSAFE = frozenset('<>:"/\\|?*')  # path separators, Windows' reserved characters, and no markup
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # controls, bidi overrides, surrogates
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})
_ALLOWED_LIST = "PNG, JPEG, GIF, WebP, PDF or plain text (UTF-8)"
_PREFLIGHT = {
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": f"Content-Type, X-Filename, {SESSION_HEADER}",
    "Access-Control-Max-Age": "600",
}


@final
class WidgetUploads:
    """The upload route, and the lookup of a message's attachments among a visitor's uploads."""

    def __init__(
        self,
        *,
        files: UploadFiles,
        origins: OriginCheck,
        authenticate: Authenticate,
        client_address: Callable[[web.Request], str],
        max_bytes: int = MAX_UPLOAD_BYTES,
        per_minute: int = UPLOADS_PER_MINUTE,
    ) -> None:
        self._files = files
        self._origins = origins
        self._authenticate = authenticate
        self._address = client_address  # the address the per-address limits count (behind trusted proxies)
        self._max_bytes = max_bytes
        self._recent = PerMinute(per_minute)  # uploads per visitor, in one-minute buckets
        self._bytes = BytesPerHour(UPLOAD_BYTES_PER_HOUR)  # uploaded bytes per client address

    def routes(self) -> list[web.RouteDef]:
        return [web.post(UPLOAD_PATH, self._upload), web.options(UPLOAD_PATH, self._preflight)]

    async def attachments(self, visitor: str, upload_ids: Sequence[str]) -> tuple[Attachment, ...] | None:
        """The visitor's uploads ``upload_ids`` as a message's attachments; None when any one is not an upload of
        theirs (missing and another visitor's look the same)."""
        found = await self._files.find_all(visitor, upload_ids)
        return None if found is None else tuple(upload.attachment() for upload in found)

    # --- HTTP ---------------------------------------------------------------------------

    async def _preflight(self, request: web.Request) -> web.Response:
        return preflight(self._origins, request, _PREFLIGHT)

    async def _upload(self, request: web.Request) -> web.Response:
        return await visitor_route(request, self._origins, self._authenticate, self._recent, self._stored)

    async def _stored(self, request: web.Request, visitor: str, cors: dict[str, str]) -> web.Response:
        upload = await self._receive(request, visitor)
        body = {"upload": upload.id, "name": upload.name, "size": upload.size, "media_type": upload.media_type}
        return json_response(201, body, cors)

    async def _receive(self, request: web.Request, visitor: str) -> StoredUpload:
        """Stream the body to a new upload of ``visitor``: sniffed, capped, then committed; else nothing stays."""
        declared = request.content_type  # aiohttp: lower case, no parameters; application/octet-stream if absent
        if declared not in ALLOWED_TYPES:
            raise Refused(415, "unsupported_type", f"{declared[:80]} files are not accepted: {_ALLOWED_LIST} only")
        if request.content_length is not None and request.content_length > self._max_bytes:
            raise self._too_large()
        if request.content_length == 0:
            raise _empty()
        most = request.content_length or self._max_bytes
        address = self._address(request)
        hour = self._bytes.reserve(address, most)
        if hour is None:
            limit = self._bytes.limit // 2**20
            log.info("uploads: refused, %s has uploaded %d MB within the hour", address, limit)
            raise Refused(429, "quota_exceeded", f"more than {limit} MB of files an hour from your network; try later")
        stored = 0
        try:
            upload = await self._store(request, visitor, declared, most)
            stored = upload.size
            return upload
        finally:
            self._bytes.refund(address, most - stored, hour)  # what was reserved and not stored

    async def _store(self, request: web.Request, visitor: str, declared: str, most: int) -> StoredUpload:
        """The body as a new upload of ``visitor`` (at most ``most`` bytes), unless that would take the disk below its
        reserve; a refused or broken one leaves nothing."""
        if await self._files.free_bytes() - most < DISK_RESERVE_BYTES:
            log.error("uploads: refused, less than %d MB free for %s", DISK_RESERVE_BYTES // 2**20, self._files.root)
            raise Refused(507, "insufficient_storage", "the chat cannot take files right now; try again later")
        name = display_name(request.headers.get("X-Filename", ""))
        partial = await self._files.begin(visitor)
        try:
            await self._copy(request, partial.write, declared)
            if partial.size == 0:
                raise _empty()
            return await partial.commit(name=name, media_type=declared)
        finally:  # refused, or cancelled (aiohttp cancels the handler when the client goes away mid-body)
            await partial.discard()  # a no-op once committed

    async def _copy(self, request: web.Request, write: Callable[[bytes], Awaitable[None]], declared: str) -> None:
        """Read the body into ``write`` up to the cap, checking the bytes against ``declared`` as they come: the
        signature as soon as ``SNIFF_BYTES`` are in (the rest is then not read when they disagree)."""
        head, size = b"", 0
        text = TextCheck() if declared == TEXT else None
        async for chunk in request.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self._max_bytes:
                raise self._too_large()
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
                if len(head) == SNIFF_BYTES:
                    _agree(head, declared)
            if text is not None and not text.feed(chunk):
                raise _not_text()
            await write(chunk)
        if 0 < len(head) < SNIFF_BYTES:
            _agree(head, declared)
        if text is not None and not text.feed(b"", last=True):
            raise _not_text()

    def _too_large(self) -> Refused:
        return Refused(413, "file_too_large", f"files are limited to {self._max_bytes // 2**20} MB")


def display_name(header: str) -> str:
    """The label of an uploaded file, from its ``X-Filename`` (percent-encoded UTF-8): only ever shown, never a path.

    The last part of a path (``../../etc/passwd`` -> ``passwd``); controls, NUL, bidi overrides and ``<>:"/\\|?*``
    as ``_`` (``a.php%00.jpg`` -> ``a.php_.jpg``); no leading dots or spaces, no trailing ones; Windows' device
    names prefixed (``CON.txt`` -> ``_CON.txt``); at most ``MAX_NAME_CHARS`` characters, the extension kept;
    ``file`` when nothing is left.
    """
    name = unicodedata.normalize("NFC", unquote(header, errors="replace"))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if ch in _UNSAFE or unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch for ch in name)
    name = name.strip(" .")
    if name.split(".", 1)[0].upper().rstrip(" ") in _RESERVED:
        name = f"_{name}"
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        keep = f"{dot}{extension}" if dot and stem and len(extension) <= 10 else ""
        name = name[: MAX_NAME_CHARS - len(keep)].rstrip(" .") + keep
    return name or "file"


def _agree(head: bytes, declared: str) -> None:
    """Refuse the file when its first bytes are not what ``declared`` says (text has no binary signature)."""
    sniffed = sniff(head)
    if sniffed != (None if declared == TEXT else declared):
        shown = sniffed or ("not a known type" if declared != TEXT else "binary")
        raise Refused(415, "unsupported_type", f"the file is {shown}, not {declared}: {_ALLOWED_LIST} only")


def _not_text() -> Refused:
    return Refused(415, "unsupported_type", "the file is not plain UTF-8 text (or it contains NUL bytes)")


def _empty() -> Refused:
    return Refused(400, "empty_file", "the file is empty")

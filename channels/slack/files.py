"""This module contains the files agents share in a thread: their ``Attachment`` records and the fetcher behind them.

A ``file_share`` message lists its files with a ``url_private_download`` that needs the bot token as
a Bearer header. The attachment's URL is ``slack-file:<url_private_download>``: the scheme picks the
Slack fetcher in ``bridge.attachments.Fetchers``, and the token is only ever sent to Slack's own
hosts (``*.slack.com`` over https, or the configured API's origin, e.g. the loopback emulator).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bridge.attachments import AttachmentUnavailable
from bridge.events import Attachment

FILE_URL_SCHEME = "slack-file:"
MAX_FETCH = 50 * 1024 * 1024
"""Largest file fetched: Telegram bots upload at most 50 MB (a larger file could not be passed on anyway)."""
_CHUNK = 256 * 1024


def shared_files(event: Mapping[str, Any]) -> tuple[Attachment, ...]:
    """The files of a ``file_share`` message event (none for any other message).

    A file Slack does not let us download (an external link, a tombstone, one hidden by the plan's
    limits) keeps its name with an empty reference, so the customer is told it could not be sent.
    """
    files = event.get("files") if event.get("subtype") == "file_share" else None
    if not isinstance(files, list):
        return ()
    found: list[Attachment] = []
    for file in files:
        if not isinstance(file, Mapping):
            continue
        url = file.get("url_private_download") or file.get("url_private")
        size = file.get("size")
        found.append(
            Attachment(  # Slack's fields are strings and a byte count; anything else is not Slack's
                name=_text(file.get("name") or file.get("title") or file.get("id"), "file"),
                media_type=_text(file.get("mimetype"), "application/octet-stream"),
                size=size if isinstance(size, int) and not isinstance(size, bool) and 0 <= size < 2**63 else 0,
                url=f"{FILE_URL_SCHEME}{_text(url, '')}",
            )
        )
    return tuple(found)


def _text(value: object, default: str) -> str:
    """A file's field as text a database stores: without NUL, lone surrogates as "?"; not a string: ``default``."""
    if not isinstance(value, str) or not value:
        return default
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


class SlackFileFetcher:
    """Downloads ``slack-file:`` attachments with the bot token (``Fetchers`` calls it as a function).

    ``session`` is asked for at each fetch, so the channel may open its HTTP session after registering.
    """

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        session: Callable[[], aiohttp.ClientSession | None],
        max_bytes: int = MAX_FETCH,
    ) -> None:
        self._token = token
        self._api_origin = _origin(api_url)
        self._session = session
        self._max_bytes = max_bytes

    async def __call__(self, attachment: Attachment) -> tuple[bytes, str]:
        """The file's bytes and media type.

        Raises:
            AttachmentUnavailable: not a Slack file URL, too large, gone, or Slack answered its sign-in
                page (it does so, with a 200, when the token may not read the file).
            aiohttp.ClientError: Slack could not be reached (transient: the delivery is retried).
        """
        url = attachment.url.removeprefix(FILE_URL_SCHEME)
        if not url or not self._is_slack(url):
            raise AttachmentUnavailable("file not available from Slack")
        if attachment.size > self._max_bytes:
            raise AttachmentUnavailable(_too_large(attachment.size, self._max_bytes))
        session = self._session()
        if session is None:
            raise aiohttp.ClientConnectionError("the Slack channel is not running")
        headers = {"Authorization": f"Bearer {self._token}"}
        async with session.get(url, headers=headers) as response:  # aiohttp drops the header on a cross-host redirect
            if response.status in (401, 403, 404, 410):
                raise AttachmentUnavailable(f"file not available from Slack (HTTP {response.status})")
            response.raise_for_status()  # 5xx, 429: transient
            if response.status != 200 or response.content_type == "text/html":
                raise AttachmentUnavailable("file not available from Slack (the bot may not read it)")
            data = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data += chunk
                if len(data) > self._max_bytes:
                    raise AttachmentUnavailable(_too_large(len(data), self._max_bytes))
        media_type = response.content_type or attachment.media_type
        if media_type == "application/octet-stream":
            media_type = attachment.media_type
        return bytes(data), media_type

    def _is_slack(self, url: str) -> bool:
        """Only Slack's hosts get the token: https ``slack.com`` hosts, or the configured API's origin."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com")):
            return True
        return _origin(url) == self._api_origin


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port


def _too_large(size: int, limit: int) -> str:
    return f"file too large to pass on ({size / 2**20:.1f} MB, at most {limit / 2**20:.0f} MB)"

"""This module contains the attachment fetch hook: channels register how to get the bytes behind their file URLs.

An ``Attachment`` carries a URL, never bytes. A channel whose platform hosts files (Telegram's
``telegram-file:<file_id>``) registers a fetcher for its URL scheme at startup; a channel that
re-posts files elsewhere (Slack uploads them into the thread) asks ``Fetchers.fetch`` without
knowing which platform the file came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import final

from bridge.events import Attachment

AttachmentFetcher = Callable[[Attachment], Awaitable[tuple[bytes, str]]]
"""Bytes and media type of one attachment; raises ``AttachmentUnavailable`` when it cannot be had."""


class AttachmentUnavailable(Exception):
    """The file cannot be fetched (too large for the platform, gone); ``label`` is shown instead of it."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


@final
class Fetchers:
    """The fetchers of one running bridge, keyed by URL scheme (the part before the first ``:``)."""

    def __init__(self) -> None:
        self._by_scheme: dict[str, AttachmentFetcher] = {}

    def register(self, scheme: str, fetcher: AttachmentFetcher) -> None:
        self._by_scheme[scheme] = fetcher

    def unregister(self, scheme: str) -> None:
        self._by_scheme.pop(scheme, None)

    async def fetch(self, attachment: Attachment) -> tuple[bytes, str]:
        """The attachment's bytes and media type.

        Raises:
            AttachmentUnavailable: no channel fetches this kind of URL, or the fetcher refused it.
        """
        scheme = attachment.url.split(":", 1)[0]
        fetcher = self._by_scheme.get(scheme)
        if fetcher is None:
            raise AttachmentUnavailable(f"file not available ({scheme} files cannot be fetched)")
        return await fetcher(attachment)

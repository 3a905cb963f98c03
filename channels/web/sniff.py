"""This module contains the sniffing of uploaded files: what a file is, from its bytes, whatever it claims.

A widget upload declares its media type; it is taken only when the bytes agree. Images and PDFs are recognised by
their magic bytes (the first ``SNIFF_BYTES``); ``text/plain`` is a file with none of those signatures whose every
byte is valid UTF-8 and not NUL (``TextCheck``, fed chunk by chunk). An HTML page, an SVG or an ELF program sent as
``image/png`` has no PNG signature, so it is refused; sent as ``text/plain`` an HTML page is text, which is all a
download of it will ever be (``Content-Disposition: attachment``, ``nosniff``).
"""

from __future__ import annotations

import codecs
from typing import final

__all__ = ["ALLOWED_TYPES", "SNIFF_BYTES", "TEXT", "TextCheck", "sniff"]

TEXT = "text/plain"
ALLOWED_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", TEXT})
SNIFF_BYTES = 16  # enough for every signature below


def sniff(head: bytes) -> str | None:
    """The media type the first bytes of a file prove, or None (no known signature: text, or not allowed)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


@final
class TextCheck:
    """Whether the chunks fed so far are valid UTF-8 without NUL (a character may span two chunks)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.ok = True

    def feed(self, chunk: bytes, *, last: bool = False) -> bool:
        """Check ``chunk``; ``last`` for the end of the file (an unfinished character there is invalid)."""
        if self.ok:
            try:
                self._decoder.decode(chunk, last)
            except UnicodeDecodeError:
                self.ok = False
            self.ok = self.ok and b"\x00" not in chunk
        return self.ok

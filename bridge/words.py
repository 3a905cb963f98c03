"""This module contains loose word matching for keyword checks on the hot path (FAQ answers, urgent words)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["first_word", "fold", "words_of"]

_WORD = re.compile(r"\w+")
# ASCII text, in one pass: letters are folded (ASCII's casefold is lower) and every character that is neither a
# word character (``\w``: letters, digits, "_") nor whitespace becomes a space, so ``split()`` gives what
# ``_WORD.findall(fold(text))`` gives. A byte table: ``bytes.translate`` is a C table lookup per byte, ~15x
# faster than ``str.translate`` with a mapping (0.05 against 0.8 us for a 120-character message).
_ASCII_FOLDED_WORDS = bytes(
    ord(chr(c).lower()) if chr(c).isalnum() or chr(c) == "_" or chr(c).isspace() else ord(" ") for c in range(128)
) + bytes(128)


def words_of(text: str) -> frozenset[str]:
    """The case-folded words of a message, for keyword checks (the FAQ's and the urgent words)."""
    if text.isascii():
        return frozenset(text.encode().translate(_ASCII_FOLDED_WORDS).decode().split())
    return frozenset(_WORD.findall(fold(text)))


def first_word(text: str) -> str | None:
    """The first folded word of a keyword ("Money back" -> "money"); None when it has no word."""
    found = _WORD.search(fold(text))
    return None if found is None else found.group(0)


def fold(text: str) -> str:
    """``text`` case-folded without accents or other combining marks, for comparing words loosely: "İADE",
    "İade" and "iade" give "iade" (casefold alone gives "i" + a combining dot, which splits the word). Only a
    pre-check: the keyword patterns decide."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))

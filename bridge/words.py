"""This module contains loose word matching for keyword checks on the hot path (FAQ answers, urgent words)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["first_word", "fold", "words_of"]

_WORD = re.compile(r"\w+")


def words_of(text: str) -> frozenset[str]:
    """The case-folded words of a message, for keyword checks (the FAQ's and the urgent words)."""
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

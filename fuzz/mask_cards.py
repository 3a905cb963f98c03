"""Atheris target: ``bridge.redaction.mask_cards``, which every stored message and every log record goes through.

Never raises; idempotent (a mask holds four digits, never a card); only digits and their separators change, into
``[card ending 1234]`` masks whose four digits come from the number they replace; text that needs no mask comes back
as the same object; linear time (the input repeated to 8 KB stays within a linear budget).
"""

from __future__ import annotations

import re

from bridge.redaction import mask_cards
from fuzz.support import check, check_linear

MAX_LEN = 8192
_MASK = re.compile(r"\[card ending (\d{4})\]")


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    masked = mask_cards(text)
    check(mask_cards(masked) == masked, f"not idempotent: {text!r} -> {masked!r} -> {mask_cards(masked)!r}")
    if masked is not text:
        check(masked != text and _MASK.search(masked) is not None, f"{text!r} changed without a mask: {masked!r}")
    else:
        check(masked == text, "same object, other text")
    outside = _MASK.sub("", masked)
    check(set(outside) <= set(text), f"mask_cards({text!r}) wrote characters of its own: {masked!r}")
    check_linear("mask_cards", mask_cards, text)

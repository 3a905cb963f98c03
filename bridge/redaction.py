"""This module masks payment card numbers in text before it is stored, posted or logged (reliability target H28).

``mask_cards`` replaces every Luhn-valid card number of 13 to 19 digits with ``[card ending 1234]`` (its last four
digits, as written). A number may be written plain (``4111111111111111``) or grouped with single spaces or dashes
(``4111 1111 1111 1111``, ``4111-1111-1111-1111``, Amex ``3782 822463 10005``); a no-break, thin or figure space, a
Unicode hyphen or an en dash counts as a space or dash. Digits of any script count (``\\d``).

What stays as written:
- digit runs that fail the Luhn check, and runs shorter than 13 or longer than 19 digits that hold no card;
- a run right after ``+``: a phone number in international form (``+49 1512 3456 7890``), even when Luhn-valid;
- a run right after a minus sign (a ``-`` with no letter or digit before it): a negative number, such as a
  Telegram group's chat id (``-1001987654321``); ``VISA-4111111111111111`` is still masked;
- order numbers, amounts, dates: anything under 13 digits.

A run of up to 16 digits is one number: masked when Luhn-valid, else left whole. A longer run of grouped digits
may be a card with something right after or before it (its CVV or expiry: ``4111 1111 1111 1111 123``), so when
it is not itself a card it is searched group by group: the longest Luhn-valid span of whole groups of 13 to 19
digits is masked, left to right. (Searching shorter runs too would mask about 1.6% of Luhn-invalid 16-digit
strings grouped at random, through a valid span of 13-15 of their digits.) A plain run longer than 19 digits
is an identifier, not a card, and stays.

``mask_cards`` runs on every stored message, so text that cannot hold a card costs little: ASCII text with fewer
than 13 digits is returned as the same object after one count (about 0.2 µs for 120 characters).
``redact_logs`` masks card numbers in every log record, the libraries' too (python-telegram-bot logs raw updates
at DEBUG).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["MASK", "mask_cards", "redact_logs"]

MASK = "[card ending {last4}]"
"""What a card number becomes; ``last4`` is its last four digits as written."""

MIN_DIGITS, MAX_DIGITS = 13, 19
ONE_NUMBER = 16  # a run of at most this many digits is one number, never searched for a card inside it
_SEPARATORS = " \u00a0\u2007\u2009\u202f\\-\u2010\u2011\u2012\u2013"
# A maximal run of at least 13 digits with single separators between them. The engine tries the leftmost start
# first, so a match always begins at its run's first digit (a later start inside a run has fewer digits left),
# and it backtracks only over runs under 13 digits: linear in the text.
_RUN = re.compile(rf"\d(?:[{_SEPARATORS}]?\d){{{MIN_DIGITS - 1},}}")
_GROUP = re.compile(r"\d+")
_ASCII_DIGITS = b"0123456789"
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: a doubled digit, its two digits summed


def mask_cards(text: str) -> str:
    """``text`` with every Luhn-valid card number replaced by ``[card ending 1234]``; ``text`` itself (the same
    object) when there is none. See the module's docstring for what counts as a card number."""
    if text.isascii() and len(text) - len(text.encode().translate(None, _ASCII_DIGITS)) < MIN_DIGITS:
        return text  # the fast path: fewer than 13 digits in all
    parts: list[str] = []
    done = 0
    for run in _RUN.finditer(text):
        start = run.start()
        sign = text[start - 1] if start else ""
        if sign == "+" or (sign == "-" and (start == 1 or not text[start - 2].isalnum())):
            continue  # a phone number in international form, or a negative number
        masked = _mask_run(run.group())
        if masked is not None:
            parts += (text[done:start], masked)
            done = run.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _mask_run(run: str) -> str | None:
    """``run`` (digits with single separators) with its card numbers masked, or None when it holds none."""
    groups = [(g.start(), g.end()) for g in _GROUP.finditer(run)]
    digits = [int(c) for c in run if c.isdecimal()]
    # Prefix sums for an O(1) Luhn check of any span: ``even[k]`` doubles the odd indices below k, ``odd[k]``
    # the even ones; a span doubles every second digit counted from its last one.
    even, odd = [0], [0]
    for index, digit in enumerate(digits):
        plain, doubled = digit, _DOUBLED[digit]
        even.append(even[-1] + (doubled if index % 2 else plain))
        odd.append(odd[-1] + (plain if index % 2 else doubled))
    before = [0]  # digits before each group, and in all
    for start, end in groups:
        before.append(before[-1] + end - start)

    def luhn(first: int, last: int) -> bool:  # the digits [first, last)
        sums = even if (last - 1) % 2 == 0 else odd
        return (sums[last] - sums[first]) % 10 == 0

    if before[-1] <= ONE_NUMBER and not luhn(0, before[-1]):
        return None
    parts: list[str] = []
    done = 0
    i, far = 0, 0
    while i < len(groups):
        far = max(far, i)
        while far + 1 < len(groups) and before[far + 2] - before[i] <= MAX_DIGITS:
            far += 1  # the last group a card starting at group i can reach
        found = None
        for j in range(far, i - 1, -1):  # the longest span first
            count = before[j + 1] - before[i]
            if count < MIN_DIGITS:
                break
            if count <= MAX_DIGITS and luhn(before[i], before[j + 1]):
                found = j
                break
        if found is None:
            i += 1
            continue
        start, end = groups[i][0], groups[found][1]
        last4 = "".join(c for c in run[start:end] if c.isdecimal())[-4:]
        parts += (run[done:start], MASK.format(last4=last4))
        done = end
        i = found + 1
    if not parts:
        return None
    parts.append(run[done:])
    return "".join(parts)


def redact_logs() -> None:
    """Mask card numbers in every log record from now on, whoever logs it (a record factory, installed once).

    Only records that are emitted pay for it: the message is formatted, masked, and kept formatted when a card
    was found; an exception's traceback text likewise.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_cards", False):
        return
    logging.setLogRecordFactory(_masking(factory))


def _masking(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it as usual
            return record
        masked = mask_cards(message)
        if masked is not message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            hidden = mask_cards(text)
            if hidden is not text:
                record.exc_text = hidden  # formatters use it instead of formatting the exception again
        return record

    make.masks_cards = True  # type: ignore[attr-defined]
    return make

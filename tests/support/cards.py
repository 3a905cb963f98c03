"""Card numbers, phone numbers and Luhn-invalid digit strings for the redaction tests, from a seeded ``Random``."""

from __future__ import annotations

import random

SEPARATORS = (" ", "-")


def luhn_ok(digits: str) -> bool:
    """Whether ``digits`` passes the Luhn check (written here independently of ``bridge.redaction``)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` Luhn-valid."""
    return next(d for d in "0123456789" if luhn_ok(body + d))


def card_digits(rng: random.Random, length: int) -> str:
    """A Luhn-valid number of ``length`` digits starting with 2-6 (the major networks' first digits)."""
    body = str(rng.randint(2, 6)) + "".join(rng.choice("0123456789") for _ in range(length - 2))
    return body + check_digit(body)


def invalid_digits(rng: random.Random, length: int = 16) -> str:
    """A ``length``-digit string that fails the Luhn check (a card number with a wrong last digit)."""
    body = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(length - 2))
    good = check_digit(body)
    return body + rng.choice([d for d in "0123456789" if d != good])


def grouped(rng: random.Random, digits: str) -> str:
    """``digits`` as a person writes them: plain, in fours with spaces or dashes, in the Amex 4-6-5 shape, or in
    random groups of 2-6 with a space or a dash between each (mixed)."""
    style = rng.choice(("plain", "spaces", "dashes", "amex", "mixed"))
    if style == "plain":
        return digits
    if style == "amex" and len(digits) in (14, 15):
        sizes = [4, 6, len(digits) - 10]
    elif style == "mixed":
        sizes = []
        while sum(sizes) < len(digits):
            sizes.append(min(rng.randint(2, 6), len(digits) - sum(sizes)))
    else:
        sizes = [4] * (len(digits) // 4) + ([len(digits) % 4] if len(digits) % 4 else [])
    groups, at = [], 0
    for size in sizes:
        groups.append(digits[at : at + size])
        at += size
    if style == "mixed":
        return "".join(g + (rng.choice(SEPARATORS) if i < len(groups) - 1 else "") for i, g in enumerate(groups))
    separator = "-" if style == "dashes" else " "
    return separator.join(groups)


def cards(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct Luhn-valid card numbers of 13-19 digits, written in mixed ways."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        digits = card_digits(rng, rng.randint(13, 19))
        if digits not in seen:
            seen.add(digits)
            out.append(grouped(rng, digits))
    return out


def invalid_numbers(rng: random.Random, count: int) -> list[str]:
    """``count`` Luhn-invalid 16-digit strings, written in mixed ways."""
    return [grouped(rng, invalid_digits(rng)) for _ in range(count)]


def phones(rng: random.Random, count: int) -> list[str]:
    """``count`` ``+``-prefixed phone numbers in international form (E.164: at most 15 digits), written plain
    or grouped with spaces or dashes. Each has 13-15 digits, so each could pass for a card number but for its
    ``+``; about one in ten is Luhn-valid."""
    out = []
    for _ in range(count):
        code = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 2)))
        national = str(rng.randint(1, 9)) + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(13, 15) - len(code) - 1)
        )
        style = rng.choice(("plain", "space", "groups", "dashes"))
        if style == "plain":
            out.append(f"+{code}{national}")
        elif style == "space":
            out.append(f"+{code} {national}")
        else:
            separator = "-" if style == "dashes" else " "
            parts = [national[i : i + 3] for i in range(0, len(national), 3)]
            out.append(f"+{code}{separator}{separator.join(parts)}")
    return out


def digits_of(number: str) -> str:
    return "".join(c for c in number if c.isdigit())

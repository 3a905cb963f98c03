"""Hostile values shared by the fuzz tests: odd strings and numbers, broken JSON tokens, deep nesting, the seed."""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

SEED_ENV = "SWITCHBOARD_FUZZ_SEED"


def run_seed() -> int:
    """The run's seed: ``SWITCHBOARD_FUZZ_SEED`` when set (to replay a failure), else a fresh one."""
    configured = os.environ.get(SEED_ENV)
    return int(configured) if configured else secrets.randbits(32)


def replay_hint(seed: int, test_file: str) -> str:
    """How to run ``test_file`` again with ``seed``, for the failure messages."""
    return f"seed {seed} (replay: {SEED_ENV}={seed} pytest {test_file.rsplit('/', 1)[-1]})"


@dataclass(frozen=True, slots=True)
class Raw:
    """A JSON token written as is: NaN, 1e999, a lone surrogate escape, 5,000 nested brackets ..."""

    token: str


ODD_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u202eevil",  # right-to-left override
    "\u2028\u2029",
    "\ufeff",
    "zero\u200bwidth",
    "🙂" * 50,
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "<script>alert(1)</script>",
    "<!channel> <@U0AGENT1> <https://evil.example|click>",
    "'; DROP TABLE message; --",
    "%s%s%n{0}{name}${x}",
    "../../../../etc/passwd",
    "A" * 20,
    "A" * 100,
    "x" * 201,
    "\t\r\n\x1b[31m",
)
ODD_NUMBERS = (
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1e999"),
    Raw("-1e999"),
    Raw("18446744073709551616"),
    Raw("-9223372036854775809"),
    Raw("1E400"),
    Raw("-0"),
    Raw("0.0000000000000000000000001"),
    Raw("01"),
    Raw("0x10"),
    Raw("+1"),
    2**31 - 1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**64 - 1,
    -(2**63),
    -1,
    0,
    1,
    1.5,
    -0.0,
    1e308,
)
BAD_TOKENS = (
    Raw('"\\ud800"'),  # a lone surrogate: not UTF-8
    Raw('"\\udfff\\ud800"'),
    Raw('"\\u00"'),
    Raw("undefined"),
    Raw("'single'"),
    Raw("tru"),
    Raw('"unterminated'),
    Raw("[1,]"),
    Raw('{"a":1,}'),
    Raw("{,}"),
)


def nested(rng: random.Random, depth: int | None = None) -> Raw:
    """Arrays, objects or both nested ``depth`` deep (orjson refuses more than 1,024 levels)."""
    depth = depth or rng.choice((2, 50, 500, 1000, 1023, 1024, 1025, 5000, 10_000))
    shape = rng.choice(("array", "object", "mixed"))
    if shape == "array":
        return Raw("[" * depth + "]" * depth)
    if shape == "object":
        return Raw('{"a":' * depth + "1" + "}" * depth)
    return Raw('{"a":[' * (depth // 2) + "0" + "]}" * (depth // 2))


def junk(rng: random.Random) -> Any:
    """A JSON value of any type, often the wrong one for where it goes."""
    pick = rng.randrange(9)
    if pick == 0:
        return rng.choice((None, True, False))
    if pick == 1:
        return rng.choice(ODD_NUMBERS)
    if pick == 2:
        return rng.choice(ODD_STRINGS)
    if pick == 3:
        return rng.choice(BAD_TOKENS)
    if pick == 4:
        return nested(rng, rng.choice((2, 10, 300, 900, 1000, 1023)))
    if pick == 5:
        return [junk(rng) if rng.random() < 0.3 else rng.randrange(100) for _ in range(rng.randrange(5))]
    if pick == 6:
        return {rng.choice(ODD_STRINGS + ("type", "id", "__proto__")): rng.randrange(10) for _ in range(3)}
    if pick == 7:
        return "".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0xD800)))) for _ in range(30))
    return "x" * rng.choice((1, 64, 65, 2000, 10_000, 10_001, 30_000))


def dumps(value: Any) -> str:
    """JSON text of ``value``; a ``Raw`` anywhere in it is written as is."""
    if isinstance(value, Raw):
        return value.token
    if isinstance(value, dict):
        return "{" + ",".join(f"{orjson.dumps(str(k)).decode()}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return orjson.dumps(value).decode()

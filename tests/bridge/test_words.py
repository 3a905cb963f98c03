"""Word splitting for the keyword checks: the ASCII fast path must find exactly the words the regex finds."""

from __future__ import annotations

import random
import re

from bridge.words import fold, words_of

WORD = re.compile(r"\w+")


def test_ascii_words_are_the_regex_words_for_every_ascii_character() -> None:
    rnd = random.Random(20261124)
    texts = ["".join(map(chr, range(128))), "Hello, I'd like a REFUND_now!!\tpls\x00\x1fok"]
    texts += ["".join(chr(rnd.randrange(128)) for _ in range(rnd.randrange(40))) for _ in range(20_000)]
    for text in texts:
        assert words_of(text) == frozenset(WORD.findall(fold(text))), repr(text)


def test_words_are_case_folded_and_split_on_punctuation() -> None:
    assert words_of("Money-back? MONEY back.") == {"money", "back"}


def test_non_ascii_words_lose_their_accents_and_turkish_dotted_capitals() -> None:
    assert words_of("İADE istiyorum, café") == {"iade", "istiyorum", "cafe"}

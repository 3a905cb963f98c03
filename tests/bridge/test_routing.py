"""Routing's pure parts: urgent keywords and their setting."""

from __future__ import annotations

from bridge.config import DEFAULT_URGENT_KEYWORDS, Settings
from bridge.routing import keyword_pattern
from tests.bridge.test_config import GOOD


def test_keywords_match_whole_words_in_any_case() -> None:
    pattern = keyword_pattern(["payment", "hacked"])
    assert pattern is not None
    assert pattern.search("My PAYMENT failed") and pattern.search("I was hacked!")
    assert not pattern.search("repayments are fine")


def test_no_keywords_no_pattern() -> None:
    assert keyword_pattern([]) is None


def test_urgent_keywords_setting_is_a_trimmed_lowercase_list() -> None:
    assert Settings.load(GOOD).urgent_keywords == DEFAULT_URGENT_KEYWORDS
    settings = Settings.load({**GOOD, "SWITCHBOARD_URGENT_KEYWORDS": " Refund, chargeback ,,"})
    assert settings.urgent_keywords == ("refund", "chargeback")

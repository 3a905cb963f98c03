"""Parsing what an agent types after ``!canned`` / ``/canned``."""

from __future__ import annotations

import pytest

from bridge.canned import language_name, parse_command


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", ("", {})),
        ("goodbye", ("goodbye", {})),
        ("order_status order=A-42", ("order_status", {"order": "A-42"})),
        ('order_status order="A 42" stray', ("order_status", {"order": "A 42"})),
        ("order_status order=“A 42”", ("order_status", {"order": "A 42"})),  # Slack's smart quotes
        ("order_status order='A-42", ("order_status", {"order": "'A-42"})),  # unbalanced: taken as typed
        ("greeting_agent customer=Ayşe =x", ("greeting_agent", {"customer": "Ayşe"})),
    ],
)
def test_parse_command(typed: str, expected: tuple[str, dict[str, str]]) -> None:
    assert parse_command(typed) == expected


def test_language_names_are_english_for_agents() -> None:
    assert [language_name(code) for code in ("tr", "id", "pt_BR", "zh_Hans")] == [
        "Turkish",
        "Indonesian",
        "Portuguese (Brazil)",
        "Chinese (Simplified)",
    ]
    assert language_name("not-a-locale") == "not-a-locale"

"""A fuzz target with a planted bug, for the test that shows the atheris runner fails when a target crashes."""

from __future__ import annotations

TRIGGER = b"planted-bug"


def test_one_input(data: bytes) -> None:
    if data.startswith(TRIGGER):
        raise ValueError("the planted bug")

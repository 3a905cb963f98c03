"""Atheris target: ``bridge.sanitize.strip_html`` and ``customer_text``, which every stored message goes through.

Never raises; idempotent (what it returns holds no tag it would remove, ``<<b>script>`` included); text without
``<`` comes back as the same object; text that was not all markup keeps its characters outside tags; linear time
(the input repeated to 8 KB stays within a linear budget).
"""

from __future__ import annotations

from bridge.sanitize import customer_text, strip_html
from fuzz.support import check, check_linear

MAX_LEN = 8192


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    stripped = strip_html(text)
    check(strip_html(stripped) == stripped, f"not idempotent: {text!r} -> {stripped!r} -> {strip_html(stripped)!r}")
    check("<" in text or stripped is text, "text without < was copied or changed")
    check(len(stripped) <= len(text), "stripping made the text longer")
    stored = customer_text(text)
    check("\x00" not in stored and customer_text(stored) == stored, f"customer_text({text!r}) is not final")
    check_linear("strip_html", strip_html, text)

"""Choosing the customer's language from explicit choice, host page, browser and Telegram hints."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bridge.i18n import Catalogs, parse_accept_language

from .conftest import LOCALES_DIR


@pytest.mark.parametrize(
    ("preferences", "expected"),
    [
        (["pt-BR"], "pt_BR"),
        (["pt_br"], "pt_BR"),
        (["pt"], "pt_BR"),  # CLDR: pt is most likely Brazilian
        (["pt-PT"], "pt_BR"),  # same language and script; our only Portuguese beats English
        (["zh-CN"], "zh_Hans"),
        (["zh"], "zh_Hans"),  # likely subtags: zh -> zh_Hans_CN
        (["zh-SG"], "zh_Hans"),
        (["zh-TW"], "en"),  # Traditional script: no Simplified fallback, default instead
        (["zh-HK", "ru"], "ru"),  # ... or the next preference
        (["zh-Hant"], "en"),
        (["ar-EG"], "ar"),
        (["tr-TR"], "tr"),
        (["tr_TR"], "tr"),
        (["id"], "id"),
        (["in"], "id"),  # Android still sends the old code for Indonesian
        (["en-US"], "en"),
        (["en-US;q=0.8"], "en"),
        (["lt-LT"], "lt"),
        (["es-419"], "es"),
        (["ru-UA"], "ru"),
        (["xx"], "en"),
        (["not a tag!"], "en"),
        ([], "en"),
        ([None, "", None], "en"),
        (["tr", "de-DE,ru;q=0.9"], "tr"),  # explicit choice beats the browser
        ([None, None, "de-DE,ru;q=0.9,en;q=0.8", "es"], "ru"),  # browser list, best supported first
        ([None, None, None, "ar"], "ar"),  # Telegram's language_code is the last resort
    ],
)
def test_negotiate(catalogs: Catalogs, preferences: Sequence[str | None], expected: str) -> None:
    assert catalogs.negotiate(preferences) == expected


def test_negotiate_falls_back_to_configured_default() -> None:
    assert Catalogs(LOCALES_DIR, default_locale="tr").negotiate(["xx", "de"]) == "tr"


@pytest.mark.parametrize(
    ("header", "tags"),
    [
        ("da, en-gb;q=0.8, en;q=0.7", ["da", "en-gb", "en"]),
        ("en;q=0.5, tr", ["tr", "en"]),
        ("fr;q=0, *;q=0.1, ru", ["ru"]),
        ("de;q=bad, es", ["es"]),
        ("", []),
        (None, []),
        ("pt-BR", ["pt-BR"]),
    ],
)
def test_parse_accept_language(header: str | None, tags: list[str]) -> None:
    assert parse_accept_language(header) == tags

"""The FAQ bot's keyword matching on the shipped catalogs, its reload, the setting, and the lists hidden from agents."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bridge.canned import CannedService, UnknownCannedKey
from bridge.config import ConfigError, Settings
from bridge.engine import Engine
from bridge.faq import Keywords, Reply, chosen, split_keywords
from bridge.i18n import Catalogs
from bridge.store import Store

LOCALES = Path(__file__).resolve().parents[2] / "locales"
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_SIGNING_SECRET": "s3cret", "SLACK_SUPPORT_CHANNEL": "C0123ABCD"}


@pytest.fixture(scope="module")
def keywords() -> Keywords:
    return Keywords(Catalogs(LOCALES))


@pytest.mark.parametrize(
    ("locale", "text", "key"),
    [
        ("es", "Hola, quiero un reembolso", "refund_policy"),
        ("es", "¿REEMBOLSOS?", "refund_policy"),  # any case, punctuation around
        ("es", "I want my money   back", "refund_policy"),  # English works in every language; any spacing
        ("en", "I can’t log in", "password_reset"),  # a typographic apostrophe
        ("ru", "КАК ВЕРНУТЬ ДЕНЬГИ?", "refund_policy"),  # Unicode case
        ("tr", "Şifremi unuttum", "password_reset"),
        ("tr", "İade istiyorum", "refund_policy"),  # Turkish capital İ: casefold alone splits the word
        ("tr", "ŞİFREMİ UNUTTUM", "password_reset"),
        ("zh_Hans", "我想要退款，可以吗", "refund_policy"),  # no spaces between Chinese words
        ("ar", "أريد الاسترداد", "refund_policy"),
        ("pt_BR", "Qual o prazo de entrega?", "shipping_times"),
        ("lt", "Pamiršau slaptažodį", "password_reset"),
    ],
)
def test_a_keyword_of_the_language_or_english_matches(keywords: Keywords, locale: str, text: str, key: str) -> None:
    assert keywords.mentioned(text)
    assert keywords.match(locale, text) == key


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "It was refunded already"),  # whole words only
        ("en", "Where is my order?"),
        ("en", "quiero un reembolso"),  # another language's keyword: not for an English conversation
        ("es", "mot de passe"),
    ],
)
def test_no_match(keywords: Keywords, locale: str, text: str) -> None:
    assert keywords.match(locale, text) is None


def test_a_message_naming_no_keyword_of_any_language_is_not_mentioned(keywords: Keywords) -> None:
    assert not keywords.mentioned("How can I return to the home page? No money needed, it's reset.")
    assert not keywords.mentioned("")
    assert keywords.mentioned("quiero un reembolso")  # some language's keyword: the desk reads the conversation


def test_an_edited_keyword_list_takes_effect_without_a_restart(tmp_path: Path) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES, copy)
    catalogs = Catalogs(copy, reload_interval=0)
    keywords = Keywords(catalogs)
    assert keywords.match("es", "necesito la plata de vuelta") is None

    po = copy / "es" / "LC_MESSAGES" / "canned.po"
    text = po.read_text(encoding="utf-8")
    po.write_text(text.replace('msgstr "reembolso, ', 'msgstr "plata de vuelta, reembolso, '), encoding="utf-8")
    stat = po.stat()
    os.utime(po, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))

    assert keywords.match("es", "necesito la plata de vuelta") == "refund_policy"
    assert keywords.mentioned("necesito la plata de vuelta")


def test_keyword_lists_split_on_any_script_comma() -> None:
    assert split_keywords("refund,  money back ;can’t log in") == ["refund", "money back", "can't log in"]
    assert split_keywords("退款，退货、退钱") == ["退款", "退货", "退钱"]
    assert split_keywords(" , ") == []


def test_only_the_bots_two_choices_are_its_replies() -> None:
    assert chosen("faq:answered") is Reply.ANSWERED and chosen("faq:person") is Reply.PERSON
    assert chosen("csat:5") is None and chosen("faq:") is None


def test_agents_are_never_offered_a_keyword_list(tmp_path: Path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    catalogs = Catalogs(LOCALES)
    canned = CannedService(store=store, engine=Engine(store, negotiate=catalogs.negotiate), catalogs=catalogs)
    assert "refund_policy.keywords" in catalogs.canned_sources()  # translators see it in canned.po ...

    assert "refund_policy" in canned.sources() and not any(key.endswith(".keywords") for key in canned.sources())
    with pytest.raises(UnknownCannedKey) as typo:
        canned.source("refund_polcy")
    assert typo.value.close_matches == ["refund_policy"]  # ... but agents are not pointed to it
    with pytest.raises(UnknownCannedKey) as listed:
        canned.source("refund_policy.keywords")
    assert listed.value.close_matches == []


@pytest.mark.parametrize(("value", "on"), [(None, True), ("off", False), ("ON", True), ("no", False)])
def test_the_faq_setting(value: str | None, on: bool) -> None:
    environ = GOOD if value is None else {**GOOD, "SWITCHBOARD_FAQ": value}
    assert Settings.load(environ).faq is on


def test_a_bad_faq_setting_is_named() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load({**GOOD, "SWITCHBOARD_FAQ": "sometimes"})
    assert refused.value.problems == ["SWITCHBOARD_FAQ must be on or off, got 'sometimes'"]

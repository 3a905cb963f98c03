"""Catalogs at runtime: hot reload, safe fallbacks for broken catalogs and hostile values, canned answers."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest

from bridge import texts
from bridge.i18n import Catalogs, UnknownCannedKey

from .conftest import LOCALES_DIR

TR_GREETING = "Merhaba {name}! Bize ulaştığınız için teşekkürler. Bir temsilcimiz birazdan sizinle ilgilenecek."
EN_GREETING_ANA = "Hi Ana! Thanks for reaching out. An agent will be with you shortly."


def _po(path: Path, body: str, plural_forms: str = "nplurals=2; plural=(n != 1);") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n"Plural-Forms: {plural_forms}\\n"\n\n'
    path.write_text(header + body, encoding="utf-8")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "switchboard.i18n" and r.levelno == logging.WARNING]


def test_changed_po_is_picked_up_without_restart(tmp_path: Path) -> None:
    po = tmp_path / "tr" / "LC_MESSAGES" / "messages.po"
    _po(po, 'msgid "Thank you for your feedback!"\nmsgstr "Teşekkürler!"\n')
    catalogs = Catalogs(tmp_path, reload_interval=0)
    assert catalogs.gettext("tr", texts.FEEDBACK_THANKS) == "Teşekkürler!"
    _po(po, 'msgid "Thank you for your feedback!"\nmsgstr "Geri bildiriminiz için teşekkür ederiz!"\n')
    assert catalogs.gettext("tr", texts.FEEDBACK_THANKS) == "Geri bildiriminiz için teşekkür ederiz!"


def test_reload_checks_a_file_at_most_once_per_interval(tmp_path: Path) -> None:
    po = tmp_path / "tr" / "LC_MESSAGES" / "messages.po"
    _po(po, 'msgid "Thank you for your feedback!"\nmsgstr "Teşekkürler!"\n')
    catalogs = Catalogs(tmp_path, reload_interval=3600)
    assert catalogs.gettext("tr", texts.FEEDBACK_THANKS) == "Teşekkürler!"
    _po(po, 'msgid "Thank you for your feedback!"\nmsgstr "Çok teşekkürler!"\n')
    assert catalogs.gettext("tr", texts.FEEDBACK_THANKS) == "Teşekkürler!"


def test_misspelled_placeholder_falls_back_to_default_and_warns_once(
    locales_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A translated `{nam}` used to raise KeyError at `.format()`; the customer must get English instead."""
    _replace(locales_copy / "tr/LC_MESSAGES/messages.po", TR_GREETING, TR_GREETING.replace("{name}", "{nam}"))
    catalogs = Catalogs(locales_copy)
    for _ in range(3):
        assert catalogs.gettext("tr", texts.GREETING_NAMED, name="Ana") == EN_GREETING_ANA
    [warning] = _warnings(caplog)
    assert "tr/LC_MESSAGES/messages.po:" in warning and "{nam}" in warning and "{name}" in warning
    assert catalogs.gettext("tr", texts.AGENT_JOINED, agent="Sam") == "Sam sohbete katıldı."


@pytest.mark.parametrize("broken", ["Merhaba {name!", "Merhaba {name.__class__}!", "Merhaba {0}!", "Merhaba!"])
def test_broken_translation_never_reaches_the_customer(locales_copy: Path, broken: str) -> None:
    _replace(locales_copy / "tr/LC_MESSAGES/messages.po", TR_GREETING, broken)
    assert Catalogs(locales_copy).gettext("tr", texts.GREETING_NAMED, name="Ana") == EN_GREETING_ANA


def test_po_with_syntax_error_falls_back_and_recovers(locales_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    po = locales_copy / "tr/LC_MESSAGES/messages.po"
    good = po.read_text(encoding="utf-8")
    po.write_text(good + "\nthis is not po\n", encoding="utf-8")
    catalogs = Catalogs(locales_copy, reload_interval=0)
    assert catalogs.gettext("tr", texts.FEEDBACK_THANKS) == "Thank you for your feedback!"
    assert catalogs.gettext("tr", texts.RATE_LIMITED) == "You are sending messages too fast. Please wait a moment."
    [warning] = _warnings(caplog)
    assert "tr/LC_MESSAGES/messages.po:" in warning and "invalid .po syntax" in warning
    po.write_text(good, encoding="utf-8")
    assert catalogs.gettext("tr", texts.FEEDBACK_THANKS) == "Geri bildiriminiz için teşekkür ederiz!"


def test_broken_default_locale_falls_back_to_source(locales_copy: Path) -> None:
    _replace(locales_copy / "en/LC_MESSAGES/messages.po", 'msgstr "Thank you for your feedback!"', 'msgstr "{x}"')
    catalogs = Catalogs(locales_copy)
    assert catalogs.gettext("en", texts.FEEDBACK_THANKS) == "Thank you for your feedback!"


def test_values_are_inserted_as_plain_text(catalogs: Catalogs) -> None:
    name = "{name.__class__} {0} {{x}} %s"
    assert catalogs.gettext("en", texts.GREETING_NAMED, name=name).startswith(f"Hi {name}!")


def test_missing_value_renders_empty_never_raises(catalogs: Catalogs) -> None:
    assert catalogs.gettext("en", texts.AGENT_JOINED) == " joined the conversation."
    assert catalogs.ngettext("ru", *texts.PEOPLE_AHEAD, 3) == "Перед вами в очереди 3 человека."


def test_unknown_msgid_and_locale_render_the_source(catalogs: Catalogs) -> None:
    assert catalogs.gettext("tr", "Brand new {thing}", thing="text") == "Brand new text"
    assert catalogs.ngettext("xx", *texts.PEOPLE_AHEAD, 2) == "There are 2 people ahead of you."
    assert catalogs.gettext("pt-PT", texts.FEEDBACK_THANKS) == "Obrigado pela sua avaliação!"


def test_explicit_count_wins_over_n(catalogs: Catalogs) -> None:
    assert catalogs.ngettext("en", *texts.PEOPLE_AHEAD, 2, count="two") == "There are two people ahead of you."


def test_canned_answer(catalogs: Catalogs) -> None:
    canned = catalogs.canned("tr", "order_status", order="A-1042")
    assert canned.text == "A-1042 numaralı siparişinizi hemen kontrol ediyorum."
    assert (canned.locale, canned.fell_back) == ("tr", False)
    assert canned.source_text == "I'm checking order A-1042 for you now."


def test_canned_answer_without_translation_falls_back(locales_copy: Path) -> None:
    po = locales_copy / "tr/LC_MESSAGES/canned.po"
    _replace(po, 'msgstr "{order} numaralı siparişinizi hemen kontrol ediyorum."', 'msgstr ""')
    canned = Catalogs(locales_copy).canned("tr", "order_status", order="A-1042")
    assert canned.text == canned.source_text == "I'm checking order A-1042 for you now."
    assert (canned.locale, canned.fell_back) == ("en", True)


def test_unknown_canned_key_suggests_close_matches(catalogs: Catalogs) -> None:
    with pytest.raises(UnknownCannedKey) as caught:
        catalogs.canned("en", "refund_polcy")
    assert caught.value.key == "refund_polcy"
    # The catalog knows every entry; CannedService leaves the FAQ keyword list out of what agents are offered.
    assert caught.value.close_matches == ["refund_policy", "refund_policy.keywords"]
    assert "refund_policy" in str(caught.value)


def test_canned_keys(catalogs: Catalogs) -> None:
    keys = catalogs.canned_keys()
    assert {"greeting_agent", "refund_policy", "order_status", "password_reset", "shipping_times", "goodbye"} <= set(
        keys
    )
    assert keys == sorted(keys)


def test_widget_bundle(catalogs: Catalogs) -> None:
    bundle = catalogs.widget_bundle([None, "tr-TR,en;q=0.5"])
    assert bundle["locale"] == "tr" and bundle["dir"] == "ltr"
    assert isinstance(bundle["strings"], dict) and bundle["strings"]["send"] == "Gönder"
    languages = bundle["languages"]
    assert isinstance(languages, list) and [language["code"] for language in languages] == list(catalogs.available)
    assert {"code": "tr", "name": "Türkçe"} in languages
    assert {"code": "ar", "name": "العربية"} in languages
    assert catalogs.widget_bundle(["ar-EG"])["dir"] == "rtl"


def test_format_datetime_and_number(catalogs: Catalogs) -> None:
    moment = datetime(2026, 3, 3, 9, 0)
    assert catalogs.format_datetime("en", moment) == "Mar 3, 2026, 9:00:00\u202fAM"
    assert catalogs.format_datetime("tr", moment, tz="Europe/Istanbul") == "3 Mar 2026 12:00:00"
    assert catalogs.format_datetime("en", moment, tz="Not/AZone") == catalogs.format_datetime("en", moment)
    assert catalogs.format_number("tr", 1234.5) == "1.234,5"
    assert catalogs.format_number("en", 1234.5) == "1,234.5"


def test_missing_default_locale_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    catalogs = Catalogs(tmp_path)
    assert catalogs.available == ()
    assert catalogs.gettext("en", texts.FEEDBACK_THANKS) == "Thank you for your feedback!"
    [warning] = _warnings(caplog)
    assert "default locale 'en' has no catalog" in warning


def test_shipped_catalogs_load_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    catalogs = Catalogs(LOCALES_DIR)
    for locale in catalogs.available:
        catalogs.gettext(locale, texts.FEEDBACK_THANKS)
        catalogs.canned(locale, "goodbye")
    assert _warnings(caplog) == []


def test_preload_reads_every_catalog() -> None:
    catalogs = Catalogs(LOCALES_DIR)
    catalogs.preload()
    assert len(catalogs._files) == 2 * len(catalogs.available) + 1

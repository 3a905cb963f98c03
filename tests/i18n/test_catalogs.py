"""The shipped catalogs: complete, well-formed, and rendering every text correctly in every language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel import Locale

from bridge import texts
from bridge.i18n import Catalogs, check_po_file, find_po_files, plural_categories, read_catalog
from channels.web.channel import STATIC

from .conftest import LOCALES_DIR, SHIPPED

SYSTEM_TEXTS = {
    "GREETING_NAMED": {"name": "Ana"},
    "GREETING": {},
    "OFFLINE": {"when": "9:00"},
    "QUEUE_POSITION": {"position": 3},
    "AGENT_JOINED": {"agent": "Sam"},
    "CONVERSATION_CLOSED": {},
    "SURVEY_QUESTION": {},
    "FEEDBACK_THANKS": {},
    "SURVEY_COMMENT": {},
    "FILE_TOO_LARGE": {"limit": "20 MB"},
    "RATE_LIMITED": {},
    "DELIVERY_FAILED": {},
}
# What the brief pins; each must also agree with CLDR (checked by check_po_file below).
PINNED_PLURAL_FORMS = {
    "en": "nplurals=2; plural=(n != 1);",
    "es": "nplurals=2; plural=(n != 1);",
    "tr": "nplurals=2; plural=(n != 1);",
    "pt_BR": "nplurals=2; plural=(n > 1);",
    "id": "nplurals=1; plural=0;",
    "zh_Hans": "nplurals=1; plural=0;",
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "lt": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "ar": "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);",
}
NUMBERS = (0, 1, 2, 5, 11, 21, 101)


def test_every_shipped_language_is_available(catalogs: Catalogs) -> None:
    assert catalogs.available == SHIPPED


@pytest.mark.parametrize("path", find_po_files(LOCALES_DIR), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_shipped_catalog_passes_check(path: Path) -> None:
    template = read_catalog(LOCALES_DIR / f"{path.stem}.pot")
    assert [str(problem) for problem in check_po_file(path, template)] == []


@pytest.mark.parametrize("locale", SHIPPED)
def test_plural_forms_header_is_pinned(locale: str) -> None:
    for domain in ("messages", "canned"):
        catalog = read_catalog(LOCALES_DIR / locale / "LC_MESSAGES" / f"{domain}.po")
        assert catalog.plural_forms == PINNED_PLURAL_FORMS[locale]
        assert catalog.num_plurals == len(plural_categories(locale))


@pytest.mark.parametrize("locale", SHIPPED)
@pytest.mark.parametrize("name", sorted(SYSTEM_TEXTS))
def test_system_text_renders(catalogs: Catalogs, locale: str, name: str) -> None:
    msgid, params = getattr(texts, name), SYSTEM_TEXTS[name]
    text = catalogs.gettext(locale, msgid, **params)
    assert "{" not in text and "}" not in text
    assert all(str(value) in text for value in params.values())
    english = catalogs.gettext("en", msgid, **params)
    assert (text == english) == (locale == "en")


@pytest.mark.parametrize("locale", SHIPPED)
def test_widget_strings_are_translated(catalogs: Catalogs, locale: str) -> None:
    strings = catalogs.widget_bundle([locale])["strings"]
    english = catalogs.widget_bundle(["en"])["strings"]
    assert isinstance(strings, dict) and isinstance(english, dict)
    assert strings.keys() == texts.WIDGET_STRINGS.keys()
    for key, text in strings.items():
        assert text and (text == english[key]) == (locale == "en"), key


def test_the_widget_knows_every_string_the_bridge_translates_for_it() -> None:
    """The widget shows a translated string only under a key it asks for (``t(key)``, with an English default in
    ``DEFAULT_STRINGS``): the bridge sent "Support team" as ``team`` while the widget asked for ``support_team``, so
    the header showed English in every language."""
    script = (STATIC / "widget.js").read_text(encoding="utf-8")
    defaults = re.search(r"var DEFAULT_STRINGS = \{(.*?)\n  \};", script, re.S)
    assert defaults is not None
    known = set(re.findall(r"^\s+(\w+):", defaults.group(1), re.M))
    assert texts.WIDGET_STRINGS.keys() <= known, texts.WIDGET_STRINGS.keys() - known


@pytest.mark.parametrize("locale", SHIPPED)
def test_plural_form_follows_cldr_category(catalogs: Catalogs, locale: str) -> None:
    """ngettext must pick the msgstr[] that belongs to CLDR's category for n (the header and form order agree)."""
    catalog = read_catalog(LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po")
    forms = catalog.get(texts.PEOPLE_AHEAD.singular).string
    assert isinstance(forms, tuple)
    rule = Locale.parse(locale).plural_form
    for n in NUMBERS:
        expected = forms[plural_categories(locale).index(rule(n))].replace("{count}", str(n))
        assert catalogs.ngettext(locale, *texts.PEOPLE_AHEAD, n) == expected, n


@pytest.mark.parametrize(
    ("locale", "n", "text"),
    [
        ("en", 1, "There is 1 person ahead of you."),
        ("en", 0, "There are 0 people ahead of you."),
        ("ru", 1, "Перед вами в очереди 1 человек."),
        ("ru", 2, "Перед вами в очереди 2 человека."),
        ("ru", 5, "Перед вами в очереди 5 человек."),
        ("ru", 11, "Перед вами в очереди 11 человек."),
        ("ru", 21, "Перед вами в очереди 21 человек."),
        ("lt", 0, "Prieš jus eilėje yra 0 žmonių."),
        ("lt", 5, "Prieš jus eilėje yra 5 žmonės."),
        ("lt", 11, "Prieš jus eilėje yra 11 žmonių."),
        ("lt", 21, "Prieš jus eilėje yra 21 žmogus."),
        ("ar", 0, "لا يوجد أحد أمامك في قائمة الانتظار."),
        ("ar", 2, "يوجد شخصان أمامك في قائمة الانتظار."),
        ("ar", 5, "يوجد 5 أشخاص أمامك في قائمة الانتظار."),
        ("ar", 11, "يوجد 11 شخصًا أمامك في قائمة الانتظار."),
        ("ar", 101, "يوجد 101 شخص أمامك في قائمة الانتظار."),
        ("pt_BR", 0, "Há 0 pessoa na sua frente."),
        ("pt_BR", 2, "Há 2 pessoas na sua frente."),
        ("es", 0, "Hay 0 personas delante de ti."),
        ("tr", 5, "Önünüzde 5 kişi var."),
        ("zh_Hans", 21, "您前面还有 21 人。"),
    ],
)
def test_plural_texts_read_right(catalogs: Catalogs, locale: str, n: int, text: str) -> None:
    assert catalogs.ngettext(locale, *texts.PEOPLE_AHEAD, n) == text


def test_plural_categories_come_from_cldr() -> None:
    assert plural_categories("ru") == ("one", "few", "many")
    assert plural_categories("lt") == ("one", "few", "other")
    assert plural_categories("ar") == ("zero", "one", "two", "few", "many", "other")
    assert plural_categories("tr") == ("one", "other")
    assert plural_categories("id") == ("other",)


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_canned_answer_is_translated(catalogs: Catalogs, locale: str) -> None:
    assert len(catalogs.canned_keys()) >= 6
    for key in catalogs.canned_keys():
        canned = catalogs.canned(locale, key, customer="Ana", agent="Sam", order="A-1042")
        assert not canned.fell_back and canned.locale == locale
        assert "{" not in canned.text
        assert (canned.text == canned.source_text) == (locale == "en"), key

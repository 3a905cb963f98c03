"""This module contains Catalogs, which picks each customer's locale and renders gettext catalogs with Babel."""

from __future__ import annotations

import difflib
import gettext as gnu_gettext
import logging
import string
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import PoFileError, read_po
from babel.numbers import format_decimal
from babel.plural import PluralRule, to_gettext
from babel.support import NullTranslations, Translations

from bridge import texts

__all__ = [
    "AVAILABLE_DIRNAME_RULE",
    "DOMAINS",
    "SOURCE_LOCALE",
    "CannedText",
    "CatalogProblem",
    "Catalogs",
    "UnknownCannedKey",
    "check_catalog",
    "check_po_file",
    "find_po_files",
    "locale_of_po_file",
    "parse_accept_language",
    "placeholder_names",
    "plural_categories",
    "plural_forms_header",
    "read_catalog",
]

logger = logging.getLogger("switchboard.i18n")

AVAILABLE_DIRNAME_RULE = "a locale is every folder of locales/ that contains LC_MESSAGES/*.po; its name is the code"
MESSAGES_DOMAIN = "messages"
CANNED_DOMAIN = "canned"
DOMAINS = (MESSAGES_DOMAIN, CANNED_DOMAIN)
SOURCE_LOCALE = "en"  # the language of every msgid
COUNT = "count"  # ngettext's number, always available to plural templates
RELOAD_INTERVAL = 1.0  # seconds between two mtime checks of the same file

_CLDR_ORDER = ("zero", "one", "two", "few", "many", "other")
# Which CLDR categories whole numbers reach; 0..999 covers every rule on n mod 100 / n mod 10, and leaves out the
# "many" of es/pt/fr (only for millions and compact notation), which gettext catalogs conventionally fold into "other".
_INTEGER_SAMPLE = range(1000)
_FORMATTER = string.Formatter()


class UnknownCannedKey(LookupError):
    """An agent asked for a canned answer that does not exist; `close_matches` holds the likely intended keys."""

    def __init__(self, key: str, close_matches: list[str]) -> None:
        hint = f" (did you mean {', '.join(close_matches)}?)" if close_matches else ""
        super().__init__(f"unknown canned response {key!r}{hint}")
        self.key = key
        self.close_matches = close_matches


@dataclass(frozen=True, slots=True, kw_only=True)
class CannedText:
    """A rendered canned answer: `fell_back` is true when `locale` is not the language that was asked for."""

    text: str
    locale: str
    fell_back: bool
    source_text: str


@dataclass(frozen=True, slots=True)
class CatalogProblem:
    """One problem in a .po file, printed as `path:line: problem` like a compiler error."""

    path: Path
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


# ---------------------------------------------------------------------------------------------------------------
# Placeholders


def placeholder_names(template: str) -> set[str]:
    """Return the `{name}` fields of a template.

    Raises:
        ValueError: on unbalanced braces, or a field that is not a plain name (`{0}`, `{a.b}`, `{x:>5}`, `{x!r}`).
    """
    names: set[str] = set()
    for _literal, field, spec, conversion in _FORMATTER.parse(template):
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"{{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}")
        names.add(field)
    return names


def _placeholder_problem(translation: str, allowed: set[str], required: set[str]) -> str | None:
    try:
        found = placeholder_names(translation)
    except ValueError as exc:
        return f"invalid placeholder {exc} (only plain {{name}} fields are allowed; write {{{{ for a brace)"
    if unknown := sorted(found - allowed):
        close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
        hint = f" (did you mean {{{close[0]}}}?)" if close else ""
        return f"unknown placeholder {{{unknown[0]}}}{hint}"
    if missing := sorted(required - found):
        return f"placeholder {{{missing[0]}}} is missing"
    return None


def _placeholder_sets(message_id: str | tuple[str, ...]) -> tuple[set[str], set[str]]:
    """Return (allowed, required) field names for translations of a message id; raises ValueError like
    `placeholder_names`."""
    if isinstance(message_id, str):
        names = placeholder_names(message_id)
        return names, names
    allowed = {COUNT}.union(*(placeholder_names(part) for part in message_id))
    # A plural form may say the number in words ("one person"), so only {count} is optional.
    return allowed, allowed - {COUNT}


def _fill(template: str, params: Mapping[str, object]) -> str:
    """Fill `{name}` fields with plain-text values (never re-parsed, so `{x.__class__}` in a value stays text);
    a missing value becomes "" and an unparsable template is returned as it is."""
    parts: list[str] = []
    try:
        for literal, field, _spec, _conversion in _FORMATTER.parse(template):
            parts.append(literal)
            if field is not None:
                value = params.get(field)
                parts.append("" if value is None else str(value))
    except ValueError:
        return template
    return "".join(parts)


def _short(message_id: str | tuple[str, ...]) -> str:
    text = message_id if isinstance(message_id, str) else message_id[0]
    return repr(text if len(text) <= 50 else text[:49] + "…")


# ---------------------------------------------------------------------------------------------------------------
# Locales and plural rules


@lru_cache(maxsize=512)
def parse_locale(tag: str) -> Locale | None:
    try:
        return Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None


@lru_cache(maxsize=512)
def _maximize(tag: str) -> tuple[str, str | None, str | None] | None:
    """(language, script, territory) with CLDR's likely subtags filled in: zh -> zh_Hans_CN, pt -> pt_Latn_BR."""
    parsed = parse_locale(tag)
    if parsed is None:
        return None
    script, territory = parsed.script, parsed.territory
    likely: Mapping[str, str] = get_global("likely_subtags")
    for key in (f"{parsed.language}_{territory}", f"{parsed.language}_{script}", parsed.language):
        hint = likely.get(key)
        guess = parse_locale(hint) if hint else None
        if guess is not None and guess.language == parsed.language:
            script = script or guess.script
            territory = territory or guess.territory
    return parsed.language, script, territory


def parse_accept_language(header: str | None) -> list[str]:
    """Return the language tags of an Accept-Language header (or a single tag), best first.

    Tags with q=0, `*` and malformed weights are dropped; equal weights keep their order.
    """
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "").split(",")):
        tag, _, params = item.partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _q, _i, tag in sorted(weighted)]


@lru_cache(maxsize=128)
def plural_categories(locale: str) -> tuple[str, ...]:
    """The CLDR plural categories whole numbers reach in `locale`, in gettext msgstr[] order (zero, one, two,
    few, many, other): ru -> ("one", "few", "many"), ar -> all six, zh_Hans -> ("other",)."""
    parsed = parse_locale(locale)
    if parsed is None:
        raise ValueError(f"unknown locale {locale!r}")
    rule = parsed.plural_form
    reached = {rule(n) for n in _INTEGER_SAMPLE}
    return tuple(tag for tag in _CLDR_ORDER if tag in reached)


def _header_disagreement(locale: str, nplurals: int, expression: str) -> str | None:
    """Compare a Plural-Forms header with CLDR's rules for `locale`; None when they agree for every sample."""
    categories = plural_categories(locale)
    if nplurals != len(categories):
        return f"Plural-Forms says nplurals={nplurals} but {locale} needs {len(categories)} ({', '.join(categories)})"
    try:
        choose = gnu_gettext.c2py(expression)
    except (ValueError, SyntaxError) as exc:
        return f"Plural-Forms expression {expression!r} is invalid: {exc}"
    rule = parse_locale(locale).plural_form  # type: ignore[union-attr]  # plural_categories parsed it
    for n in _INTEGER_SAMPLE:
        expected = categories.index(rule(n))
        if choose(n) != expected:
            return (
                f"Plural-Forms picks msgstr[{choose(n)}] for n={n}, but CLDR says {rule(n)!r}, "
                f"which is msgstr[{expected}] ({', '.join(categories)})"
            )
    return None


@lru_cache(maxsize=128)
def plural_forms_header(locale: str) -> str:
    """A Plural-Forms header value that agrees with CLDR for whole numbers (what `i18n init` writes).

    Babel's own table disagrees with CLDR for a few locales (tr 1 form, id 2), so it is only the last resort.
    """
    categories = plural_categories(locale)
    if len(categories) == 1:
        return "nplurals=1; plural=0;"
    rules = parse_locale(locale).plural_form.rules  # type: ignore[union-attr]
    # The last reached category is the catch-all: ru's "many" plays the part of "other".
    header = to_gettext(PluralRule({tag: rules[tag] for tag in categories[:-1]}))
    nplurals, _, expression = header.partition(";")
    expression = expression.strip().removeprefix("plural=").rstrip(";")
    if _header_disagreement(locale, int(nplurals.split("=")[1]), expression) is None:
        return header
    return get_plural(locale).plural_forms


# ---------------------------------------------------------------------------------------------------------------
# Reading and checking .po files


def locale_of_po_file(path: Path) -> str | None:
    """`locales/<locale>/LC_MESSAGES/<domain>.po` -> `<locale>`; None for a file outside that layout."""
    return path.parent.parent.name if path.parent.name == "LC_MESSAGES" else None


def find_po_files(locales_dir: Path) -> list[Path]:
    """Every `<locale>/LC_MESSAGES/*.po` under `locales_dir`, sorted."""
    return sorted(locales_dir.glob("*/LC_MESSAGES/*.po"))


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    """Read a .po or .pot file strictly.

    Raises:
        PoFileError: the file is not valid .po syntax (`lineno` says where).
        OSError, UnicodeDecodeError, ValueError: the file cannot be read or its header is unusable.
    """
    locale = locale or locale_of_po_file(path)
    with path.open("rb") as fp:
        return read_po(fp, locale=locale, domain=path.stem, abort_invalid=True)


def _translation_forms(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string or "",)


def check_catalog(catalog: Catalog, path: Path, *, header_line: int = 1) -> list[CatalogProblem]:
    """Check a parsed catalog: fuzzy or missing translations, `{placeholder}` mismatches, plural forms.

    Babel's own `Catalog.check()` only knows %-style placeholders, hence this checker. Locales without CLDR
    data are only checked for entries, not plural rules.
    """
    problems: list[CatalogProblem] = []
    locale = catalog.locale_identifier
    if catalog.fuzzy:
        problems.append(CatalogProblem(path, header_line, "the whole catalog is marked fuzzy (remove '#, fuzzy')"))
    if locale and parse_locale(locale) is not None:
        disagreement = _header_disagreement(locale, catalog.num_plurals, catalog.plural_expr)
        if disagreement:
            problems.append(CatalogProblem(path, header_line, disagreement))
    for message in catalog:
        if not message.id:
            continue  # the header
        problems.extend(CatalogProblem(path, message.lineno, text) for text in _message_problems(message, catalog))
    return problems


def _message_problems(message: Message, catalog: Catalog) -> Iterable[str]:
    forms = _translation_forms(message)
    if message.fuzzy:
        yield f"fuzzy translation of {_short(message.id)} (review it, then remove '#, fuzzy')"
    if not any(forms):
        yield f"missing translation of {_short(message.id)}"
        return
    if message.pluralizable:
        filled = sum(1 for form in forms if form)
        if filled < catalog.num_plurals:
            yield f"only {filled} of {catalog.num_plurals} plural forms are translated for {_short(message.id)}"
    try:
        allowed, required = _placeholder_sets(message.id)
    except ValueError as exc:
        yield f"msgid {_short(message.id)} has an invalid placeholder {exc}"
        return
    for index, form in enumerate(forms):
        problem = _placeholder_problem(form, allowed, required) if form else None
        if problem:
            where = f"msgstr[{index}]" if message.pluralizable else "msgstr"
            yield f"{where} of {_short(message.id)}: {problem}"


def _syntax_problem(error: PoFileError) -> str:
    message = str(error.args[0]).rsplit(" on ", 1)[0]  # Babel appends " on <0-based line>"
    line = str(error.line).strip()
    return f"invalid .po syntax: {message}" + (f": {line[:60]!r}" if line else "")


def _plural_header_line(path: Path) -> int:
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.startswith('"Plural-Forms:'):
                return number
    except (OSError, UnicodeDecodeError):
        pass
    return 1


def check_po_file(path: Path, template: Catalog | None = None) -> list[CatalogProblem]:
    """Check one .po file (see `check_catalog`), plus entries of `template` (its .pot) that are absent."""
    try:
        catalog = read_catalog(path)
    except PoFileError as exc:  # its lineno counts from 0, Message.lineno from 1
        return [CatalogProblem(path, exc.lineno + 1, _syntax_problem(exc))]
    except (OSError, UnicodeDecodeError, ValueError, UnknownLocaleError) as exc:
        return [CatalogProblem(path, 1, f"cannot read catalog: {exc}")]
    problems = check_catalog(catalog, path, header_line=_plural_header_line(path))
    if template is not None:
        for entry in template:
            if entry.id and catalog.get(entry.id, context=entry.context) is None:
                problems.append(
                    CatalogProblem(path, 1, f"no entry for {_short(entry.id)} (run `switchboard i18n update`)")
                )
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Runtime


class _Untranslated(LookupError):
    """Raised by the fallback of every loaded catalog, so a missing entry is told apart from a translation."""


class _RaiseOnMissing(NullTranslations):
    def gettext(self, message: str) -> str:
        raise _Untranslated

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        raise _Untranslated

    def pgettext(self, context: str, message: str) -> str:
        raise _Untranslated

    def npgettext(self, context: str, singular: str, plural: str, num: int) -> str:
        raise _Untranslated


@dataclass(frozen=True, slots=True)
class _Lookup:
    domain: str
    context: str | None
    message_id: str | tuple[str, str]
    n: int = 1

    def translate(self, translations: Translations) -> str:
        if isinstance(self.message_id, str):
            if self.context is None:
                return translations.gettext(self.message_id)
            return translations.pgettext(self.context, self.message_id)
        singular, plural = self.message_id
        if self.context is None:
            return translations.ngettext(singular, plural, self.n)
        return translations.npgettext(self.context, singular, plural, self.n)

    def source(self) -> str:
        if isinstance(self.message_id, str):
            return self.message_id
        return NullTranslations().ngettext(*self.message_id, self.n)


@dataclass(slots=True)
class _LoadedFile:
    """One .po/.pot file and what was read from it; reloaded when its mtime or size changes."""

    path: Path
    locale: str | None
    stamp: tuple[int, int] | None = None
    checked_at: float = float("-inf")
    catalog: Catalog | None = None
    translations: Translations | None = None


class Catalogs:
    """The shipped catalogs, read straight from the .po files and re-read when a file changes.

    Nothing here raises on a bad catalog: a broken file or entry falls back to `default_locale` (then to the
    English source), and each problem is logged once as a warning on the `switchboard.i18n` logger.
    Safe to share between threads; the only I/O is a `stat` per file at most every `reload_interval` seconds
    (0: on every call, `math.inf`: never), plus a re-read when a file changed. Call `preload()` at startup.
    """

    def __init__(
        self, locales_dir: Path, default_locale: str = "en", *, reload_interval: float = RELOAD_INTERVAL
    ) -> None:
        self.locales_dir = Path(locales_dir)
        self.reload_interval = reload_interval
        self._lock = threading.RLock()
        self._files: dict[Path, _LoadedFile] = {}
        self._available: tuple[str, ...] = ()
        self._scanned_at = float("-inf")
        self._warned: set[tuple[str, ...]] = set()
        self.default_locale = default_locale
        if default_locale not in self.available:
            logger.warning(
                "default locale %r has no catalog in %s (available: %s); texts stay in English",
                default_locale,
                self.locales_dir,
                ", ".join(self.available) or "none",
            )

    # -- locales --------------------------------------------------------------------------------------------

    @property
    def available(self) -> tuple[str, ...]:
        """Locale folder names that hold at least one .po file, sorted (rescanned like the files)."""
        with self._lock:
            now = time.monotonic()
            if now - self._scanned_at >= self.reload_interval:
                self._scanned_at = now
                self._available = tuple(sorted({path.parent.parent.name for path in find_po_files(self.locales_dir)}))
            return self._available

    def negotiate(self, preferences: Sequence[str | None]) -> str:
        """Pick the available locale for a customer.

        Args:
            preferences: best first, e.g. explicit choice, host page setting, browser languages, Telegram's
                `language_code`. Each item is a tag (`pt-BR`, `zh_TW`, `tr`) or a whole Accept-Language header.

        Returns:
            The first preference that matches an available locale, else `default_locale`. A tag matches the same
            language and script after CLDR's likely subtags are filled in: `pt`, `pt-PT` -> `pt_BR`; `zh`,
            `zh-CN`, `zh-SG` -> `zh_Hans`; `zh-TW`, `zh-HK` (Traditional script) match no Simplified catalog.
        """
        available = self.available
        for preference in preferences:
            for tag in parse_accept_language(preference):
                match = _best_match(tag, available)
                if match is not None:
                    return match
        return self.default_locale

    def _resolve(self, locale: str) -> str:
        return locale if locale in self.available else self.negotiate([locale])

    # -- rendering ------------------------------------------------------------------------------------------

    def gettext(self, locale: str, msgid: str, **params: object) -> str:
        """Translate a system text (domain `messages`) and fill its `{placeholders}` with `params`."""
        return self._render(locale, _Lookup(MESSAGES_DOMAIN, None, msgid), params)[0]

    def ngettext(self, locale: str, singular: str, plural: str, n: int, **params: object) -> str:
        """Translate a plural system text for the number `n`, which templates see as `{count}` unless given."""
        return self._render(locale, _Lookup(MESSAGES_DOMAIN, None, (singular, plural), n), {COUNT: n, **params})[0]

    def pgettext(self, locale: str, context: str, msgid: str, **params: object) -> str:
        """Translate a system text that has a `msgctxt` (e.g. the widget's interface strings)."""
        return self._render(locale, _Lookup(MESSAGES_DOMAIN, context, msgid), params)[0]

    def canned(self, locale: str, key: str, **params: object) -> CannedText:
        """Render the canned answer `key` (its msgctxt in canned.pot) in `locale`.

        Raises:
            UnknownCannedKey: no canned answer has this key; `close_matches` lists likely typos' targets.
        """
        sources = self._canned_sources()
        if key not in sources:
            raise UnknownCannedKey(key, difflib.get_close_matches(key, sorted(sources), n=3, cutoff=0.5))
        source = sources[key]
        locale = self._resolve(locale)
        text, used = self._render(locale, _Lookup(CANNED_DOMAIN, key, source), params)
        return CannedText(text=text, locale=used, fell_back=used != locale, source_text=_fill(source, params))

    def stamp(self, domain: str) -> tuple[object, ...]:
        """What changes when a catalog file of ``domain`` (or the set of locales) changes: each file's mtime and
        size, as last checked. Texts derived from the catalogs are re-read only when it differs (cheap: a ``stat``
        per file at most every ``reload_interval``)."""
        available = self.available
        return (available, *(self._file(locale, domain).stamp for locale in (None, *available)))

    def canned_keys(self) -> list[str]:
        """Every canned answer key, sorted."""
        return sorted(self._canned_sources())

    def canned_sources(self) -> dict[str, str]:
        """Every canned answer, sorted by key: key -> English source text, `{placeholders}` unfilled."""
        return dict(sorted(self._canned_sources().items()))

    def widget_bundle(self, preferences: Sequence[str | None]) -> dict[str, object]:
        """Everything the widget needs to draw itself in the negotiated locale (see `negotiate`).

        Returns:
            `{"locale": "tr", "dir": "ltr" | "rtl", "strings": {"send": ..., ...}, "languages": [{"code": "tr",
            "name": "Türkçe"}, ...]}`, names in their own language, in the order of `available`.
        """
        locale = self.negotiate(preferences)
        return {
            "locale": locale,
            "dir": _text_direction(locale),
            "strings": {
                key: self.pgettext(locale, texts.WIDGET_CONTEXT, msgid) for key, msgid in texts.WIDGET_STRINGS.items()
            },
            "languages": [{"code": code, "name": own_name(code)} for code in self.available],
        }

    def format_datetime(self, locale: str, value: datetime, tz: str = "UTC", width: str = "medium") -> str:
        """Format a moment in the customer's locale and time zone (naive datetimes are UTC); e.g. "3 Mar 2026,
        09:00:00" in en. `width` is Babel's: "short", "medium", "long" (adds the zone) or "full". An unknown `tz`
        falls back to UTC."""
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self._warn_once(("tz", tz), "unknown time zone %r, using UTC", tz)
            zone = ZoneInfo("UTC")
        return babel_format_datetime(value, width, tzinfo=zone, locale=self._babel_locale(locale))

    def format_number(self, locale: str, value: float) -> str:
        """Format a number with the locale's separators, e.g. 1234.5 -> "1.234,5" in tr."""
        return format_decimal(value, locale=self._babel_locale(locale))

    def preload(self) -> None:
        """Read every catalog now (e.g. at startup, in a thread) so no customer waits for a first parse."""
        for locale in self.available:
            for domain in DOMAINS:
                self._file(locale, domain)
        self._file(None, CANNED_DOMAIN)

    # -- internals ------------------------------------------------------------------------------------------

    def _babel_locale(self, locale: str) -> Locale:
        return parse_locale(self._resolve(locale)) or Locale.parse(SOURCE_LOCALE)

    def _render(self, locale: str, lookup: _Lookup, params: Mapping[str, object]) -> tuple[str, str]:
        """Return (text, locale it came from), trying `locale`, then the default locale, then the source."""
        locale = self._resolve(locale)
        try:
            allowed, required = _placeholder_sets(lookup.message_id)
        except ValueError:  # a bad msgid is a bug in our source; show it rather than fail
            return _fill(lookup.source(), params), SOURCE_LOCALE
        for candidate in dict.fromkeys((locale, self.default_locale)):
            template = self._translate(candidate, lookup)
            if template is None:
                continue
            problem = _placeholder_problem(template, allowed, required)
            if problem is None:
                return _fill(template, params), candidate
            entry = self._file(candidate, lookup.domain)
            message = entry.catalog.get(lookup.message_id, context=lookup.context) if entry.catalog else None
            self._warn_once(
                (str(entry.path), str(entry.stamp), str(lookup.message_id), str(lookup.context)),
                "%s:%d: %s; using the %s text instead",
                entry.path,
                message.lineno if message else 1,
                problem,
                self.default_locale if candidate != self.default_locale else "English source",
            )
        return _fill(lookup.source(), params), SOURCE_LOCALE

    def _translate(self, locale: str, lookup: _Lookup) -> str | None:
        translations = self._file(locale, lookup.domain).translations
        if translations is None:
            return None
        try:
            text = lookup.translate(translations)
        except _Untranslated:
            return None
        return text or None

    def _file(self, locale: str | None, domain: str) -> _LoadedFile:
        path = (
            self.locales_dir / f"{domain}.pot"
            if locale is None
            else self.locales_dir / locale / "LC_MESSAGES" / f"{domain}.po"
        )
        with self._lock:
            entry = self._files.setdefault(path, _LoadedFile(path, locale))
            self._refresh(entry)
            return entry

    def _refresh(self, entry: _LoadedFile) -> None:
        now = time.monotonic()
        if now - entry.checked_at < self.reload_interval:
            return
        entry.checked_at = now
        try:
            status = entry.path.stat()
        except OSError:
            entry.stamp, entry.catalog, entry.translations = None, None, None
            return
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == entry.stamp:
            return
        entry.stamp, entry.catalog, entry.translations = stamp, None, None
        try:
            entry.catalog = read_catalog(entry.path, entry.locale)
        except PoFileError as exc:
            self._warn_once(
                (str(entry.path), str(stamp)),
                "%s:%d: %s; using the %s text for this file",
                entry.path,
                exc.lineno + 1,
                _syntax_problem(exc),
                self.default_locale,
            )
            return
        except (OSError, UnicodeDecodeError, ValueError, UnknownLocaleError) as exc:
            self._warn_once((str(entry.path), str(stamp)), "%s:1: cannot read catalog (%s)", entry.path, exc)
            return
        if entry.locale is not None:
            buffer = BytesIO()
            write_mo(buffer, entry.catalog)
            buffer.seek(0)
            entry.translations = Translations(fp=buffer, domain=entry.path.stem)
            entry.translations.add_fallback(_RaiseOnMissing())

    def _canned_sources(self) -> dict[str, str]:
        """key -> English source text, from canned.pot (or the default locale's canned.po without a template)."""
        for locale in (None, self.default_locale):
            catalog = self._file(locale, CANNED_DOMAIN).catalog
            if catalog is not None:
                return {m.context: m.id for m in catalog if m.context and isinstance(m.id, str)}
        return {}

    def _warn_once(self, key: tuple[str, ...], message: str, *args: object) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning(message, *args)


def _best_match(tag: str, available: Sequence[str]) -> str | None:
    """The available locale for one tag: same language, script and territory first, then same language and
    script, preferring a folder without a territory (`es` over `es_MX` for `es-AR`)."""
    wanted = _maximize(tag)
    if wanted is None:
        return None
    same_script = [code for code in available if (_maximize(code) or ())[:2] == wanted[:2]]
    for code in same_script:
        if _maximize(code) == wanted:
            return code
    same_script.sort(key=lambda code: (parse_locale(code).territory is not None, code))  # type: ignore[union-attr]
    return same_script[0] if same_script else None


@lru_cache(maxsize=128)
def _text_direction(locale: str) -> str:
    parsed = parse_locale(locale)
    return "rtl" if parsed is not None and parsed.character_order == "right-to-left" else "ltr"


@lru_cache(maxsize=128)
def own_name(locale: str) -> str:
    parsed = parse_locale(locale)
    name = (parsed.get_display_name(parsed) if parsed else None) or locale
    return name[:1].upper() + name[1:]  # menus capitalise: "español" -> "Español"

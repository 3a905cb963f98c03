"""This module contains the `switchboard i18n` commands, thin wrappers around Babel's own frontend."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.frontend import BaseError, CommandMixin, CompileCatalog, ExtractMessages, InitCatalog, UpdateCatalog
from babel.messages.pofile import PoFileError, write_po

from bridge.i18n import (
    DOMAINS,
    MESSAGES_DOMAIN,
    CatalogProblem,
    check_po_file,
    find_po_files,
    locale_of_po_file,
    plural_forms_header,
    read_catalog,
)

__all__ = ["DEFAULT_LOCALES_DIR", "main", "register"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOCALES_DIR = REPO_ROOT / "locales"
# canned.pot is the operator's library and is edited by hand, so only the system texts are extracted.
EXTRACT_SOURCES = (REPO_ROOT / "bridge", REPO_ROOT / "channels")

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `i18n` command and its subcommands; each sets `handler(args) -> exit code`."""
    i18n = subparsers.add_parser("i18n", help="extract, update, check and compile the translation catalogs")
    i18n.add_argument("--locales", type=Path, default=DEFAULT_LOCALES_DIR, help="catalog folder (default: %(default)s)")
    commands = i18n.add_subparsers(dest="i18n_command", required=True, metavar="COMMAND")

    extract = commands.add_parser("extract", help="collect the system texts from the source into messages.pot")
    extract.add_argument("sources", nargs="*", type=Path, default=list(EXTRACT_SOURCES), help="files or folders")
    extract.set_defaults(handler=_extract)

    update = commands.add_parser("update", help="merge messages.pot and canned.pot into every language's .po")
    update.add_argument(
        "--ignore-pot-creation-date", action="store_true", help="do not touch POT-Creation-Date (for CI diffs)"
    )
    update.set_defaults(handler=_update)

    compile_ = commands.add_parser("compile", help="write .mo files (optional: the server reads .po directly)")
    compile_.set_defaults(handler=_compile)

    check = commands.add_parser("check", help="report missing, fuzzy or broken translations (exit 1 if any)")
    check.set_defaults(handler=_check)

    stats = commands.add_parser("stats", help="show how complete each language is")
    stats.set_defaults(handler=_stats)

    init = commands.add_parser("init", help="start a new language from the templates, e.g. `init fr`")
    init.add_argument("language", help="language code such as fr, de_CH, zh_Hant")
    init.set_defaults(handler=_init)


def _one_line_errors(handler: Handler) -> Handler:
    """Turn expected failures into one `error: ...` line and exit code 2, never a traceback."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (BaseError, OSError, PoFileError, UnknownLocaleError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return wrapper


def _run_babel(command: type[CommandMixin], **options: object) -> int:
    """Run one of Babel's frontend commands (what `pybabel` runs) with options given as attributes."""
    instance = command()
    for name, value in options.items():
        setattr(instance, name, value)
    instance.ensure_finalized()
    return instance.run() or 0


def _po_files(locales: Path) -> list[Path]:
    paths = find_po_files(locales)
    if not paths:
        raise FileNotFoundError(f"no catalogs found in {locales} (expected <language>/LC_MESSAGES/*.po)")
    return paths


def _template(locales: Path, domain: str) -> Path:
    path = locales / f"{domain}.pot"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return path


@_one_line_errors
def _extract(args: argparse.Namespace) -> int:
    output = args.locales / f"{MESSAGES_DOMAIN}.pot"
    sources = [str(path) for path in args.sources if path.exists()]
    _run_babel(
        ExtractMessages,
        input_paths=sources,
        output_file=str(output),
        add_comments="TRANSLATORS:",
        no_wrap=True,
        sort_by_file=True,
        project="Switchboard",
        copyright_holder="the Switchboard authors",
        ignore_dirs=[".*", "_*", "sandbox", "migrations", "static"],
    )
    count = _relativize_locations(output)
    print(f"wrote {output} ({count} messages)")
    return 0


def _relativize_locations(pot: Path) -> int:
    """Rewrite `#:` source references relative to the repository, so the template does not depend on where the
    checkout lives; returns the number of messages."""
    catalog = read_catalog(pot)
    for message in catalog:
        message.locations = [
            (Path(file).resolve().relative_to(REPO_ROOT).as_posix(), line)
            if Path(file).resolve().is_relative_to(REPO_ROOT)
            else (file, line)
            for file, line in message.locations
        ]
    with pot.open("wb") as fp:
        write_po(fp, catalog, width=None, sort_by_file=True)  # type: ignore[arg-type]  # None: no wrapping
    return len(catalog)


@_one_line_errors
def _update(args: argparse.Namespace) -> int:
    for domain in DOMAINS:
        _run_babel(
            UpdateCatalog,
            input_file=str(_template(args.locales, domain)),
            output_dir=str(args.locales),
            domain=domain,
            no_wrap=True,
            ignore_pot_creation_date=args.ignore_pot_creation_date,
        )
    print(f"updated {len(find_po_files(args.locales))} catalogs; now translate the new entries and run `check`")
    return 0


@_one_line_errors
def _compile(args: argparse.Namespace) -> int:
    status = _run_babel(CompileCatalog, directory=str(args.locales), domain=" ".join(DOMAINS))
    print(f"compiled {len(find_po_files(args.locales))} catalogs" if status == 0 else "compile found errors")
    return status


@_one_line_errors
def _check(args: argparse.Namespace) -> int:
    paths = _po_files(args.locales)
    templates = {}
    for domain in DOMAINS:
        pot = args.locales / f"{domain}.pot"
        templates[domain] = read_catalog(pot) if pot.is_file() else None
    problems: list[CatalogProblem] = []
    for path in paths:
        problems.extend(check_po_file(path, templates.get(path.stem)))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problems in {len({p.path for p in problems})} of {len(paths)} catalogs")
        return 1
    print(f"ok: {len(paths)} catalogs checked")
    return 0


def _completion(path: Path, total: int | None) -> str:
    try:
        catalog = read_catalog(path)
    except (PoFileError, OSError, UnicodeDecodeError, ValueError, UnknownLocaleError):
        return "broken"
    entries = [message for message in catalog if message.id]
    done = sum(
        1
        for message in entries
        if not message.fuzzy and all(message.string if isinstance(message.string, tuple) else (message.string,))
    )
    total = total if total is not None else len(entries)
    return f"{done * 100 // total if total else 100}% ({done}/{total})"


@_one_line_errors
def _stats(args: argparse.Namespace) -> int:
    totals: dict[str, int | None] = {}
    for domain in DOMAINS:
        pot = args.locales / f"{domain}.pot"
        totals[domain] = len(read_catalog(pot)) if pot.is_file() else None
    rows = [("language", "name", *DOMAINS)]
    for locale in sorted({locale_of_po_file(path) or "?" for path in _po_files(args.locales)}):
        folder = args.locales / locale / "LC_MESSAGES"
        cells = [
            _completion(folder / f"{domain}.po", totals[domain]) if (folder / f"{domain}.po").is_file() else "-"
            for domain in DOMAINS
        ]
        rows.append((locale, _english_name(locale), *cells))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    return 0


def _english_name(locale: str) -> str:
    try:
        return Locale.parse(locale).english_name or locale
    except (ValueError, UnknownLocaleError):
        return locale


@_one_line_errors
def _init(args: argparse.Namespace) -> int:
    try:
        code = str(Locale.parse(args.language.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        print(f"error: {args.language!r} is not a language code Babel knows (try e.g. fr, de_CH)", file=sys.stderr)
        return 2
    folder = args.locales / code / "LC_MESSAGES"
    if any(folder.glob("*.po")):
        print(f"error: {folder} already has catalogs; use `update` to refresh them", file=sys.stderr)
        return 2
    for domain in DOMAINS:
        _run_babel(
            InitCatalog,
            input_file=str(_template(args.locales, domain)),
            output_dir=str(args.locales),
            locale=code,
            domain=domain,
            no_wrap=True,
        )
        _pin_plural_forms(folder / f"{domain}.po", code)
    header = plural_forms_header(code)
    print(f"created {folder}/{{{','.join(DOMAINS)}}}.po with Plural-Forms: {header}")
    print("translate every entry (Poedit or a text editor), then run `switchboard i18n check`")
    return 0


def _pin_plural_forms(path: Path, locale: str) -> None:
    """Replace Babel's table-based Plural-Forms with one that agrees with CLDR (Babel gives tr 1 form)."""
    catalog = read_catalog(path, locale)
    catalog.mime_headers = [("Plural-Forms", plural_forms_header(locale))]
    with path.open("wb") as fp:
        write_po(fp, catalog, width=None)  # type: ignore[arg-type]  # None means no wrapping


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: `python -m bridge.i18n_cli check` works like `switchboard i18n check`."""
    parser = argparse.ArgumentParser(prog="python -m bridge.i18n_cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["i18n", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

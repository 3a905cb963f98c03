"""The `switchboard i18n` commands, driven through `register()` the way bridge/cli.py wires them."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural

from bridge.i18n import check_po_file, plural_categories, read_catalog
from bridge.i18n_cli import register

from .conftest import FIXTURES_DIR, LOCALES_DIR

BROKEN = FIXTURES_DIR / "broken"
REPO_ROOT = LOCALES_DIR.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="switchboard")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["i18n", *argv])
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_passes_on_shipped_catalogs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check")
    assert (code, out) == (0, "ok: 18 catalogs checked\n")


@pytest.mark.parametrize(
    ("language", "line", "problem"),
    [
        ("lt", 10, "invalid .po syntax: Unknown or misformatted keyword: 'this line is not .po syntax'"),
        ("es", 9, "fuzzy translation of 'Thank you for your feedback!'"),
        ("id", 11, "missing translation of '{agent} joined the conversation.'"),
        ("tr", 8, "unknown placeholder {nam} (did you mean {name}?)"),
        ("ru", 6, "Plural-Forms says nplurals=2 but ru needs 3 (one, few, many)"),
    ],
)
def test_check_reports_each_broken_kind(
    capsys: pytest.CaptureFixture[str], language: str, line: int, problem: str
) -> None:
    code, out, _ = run(capsys, "--locales", str(BROKEN), "check")
    assert code == 1
    [report] = [row for row in out.splitlines() if f"/{language}/" in row]
    assert report.startswith(f"{BROKEN / language / 'LC_MESSAGES' / 'messages.po'}:{line}: ")
    assert problem in report


def test_check_reports_plural_entries_missing_a_form(tmp_path: Path) -> None:
    po = tmp_path / "ru" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    ru_header = (BROKEN / "ru" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    po.write_text(
        ru_header.replace(
            "nplurals=2; plural=(n != 1);", read_catalog(LOCALES_DIR / "ru/LC_MESSAGES/messages.po").plural_forms
        ),
        encoding="utf-8",
    )
    [problem] = check_po_file(po)
    assert problem.line == 8 and "only 2 of 3 plural forms" in problem.problem


def test_check_reports_a_plural_expression_that_disagrees_with_cldr(tmp_path: Path) -> None:
    """Babel's `init` header for Arabic swaps forms 4 and 5; 11 people would read as the 100+ form."""
    po = tmp_path / "ar" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    swapped = get_plural("ar").plural_forms  # Babel's table puts "other" before "many"
    po.write_text(f'msgid ""\nmsgstr ""\n"Plural-Forms: {swapped}\\n"\n', encoding="utf-8")
    [problem] = check_po_file(po)
    assert problem.line == 3 and "picks msgstr[5] for n=11" in problem.problem and "'many'" in problem.problem


def test_stats_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stats")
    rows = out.splitlines()
    assert code == 0 and rows[0].split() == ["language", "name", "messages", "canned"]
    assert len(rows) == 2 + 9
    assert all(row.count("100%") == 2 for row in rows[2:])


def test_init_update_compile_round_trip(capsys: pytest.CaptureFixture[str], locales_copy: Path) -> None:
    code, out, _ = run(capsys, "--locales", str(locales_copy), "init", "fr-CA")
    assert code == 0 and "fr_CA" in out
    new = read_catalog(locales_copy / "fr_CA/LC_MESSAGES/messages.po")
    assert new.num_plurals == len(plural_categories("fr_CA"))
    assert check_po_file(locales_copy / "fr_CA/LC_MESSAGES/messages.po")[0].problem.startswith("missing translation")

    code, out, _ = run(capsys, "--locales", str(locales_copy), "check")
    assert code == 1 and "fr_CA" in out

    code, _, err = run(capsys, "--locales", str(locales_copy), "init", "fr_CA")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1

    code, _, _ = run(capsys, "--locales", str(locales_copy), "update", "--ignore-pot-creation-date")
    assert code == 0
    for language in ("tr", "ar", "pt_BR"):
        shipped = (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
        assert (locales_copy / language / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8") == shipped

    code, _, _ = run(capsys, "--locales", str(locales_copy), "compile")
    assert code == 0 and (locales_copy / "tr/LC_MESSAGES/canned.mo").is_file()


def test_init_new_turkish_gets_two_plural_forms(capsys: pytest.CaptureFixture[str], locales_copy: Path) -> None:
    """Babel's own `init` gives Turkish 1 plural form; CLDR (and our runtime) uses 2."""
    for domain in ("messages", "canned"):
        (locales_copy / "tr" / "LC_MESSAGES" / f"{domain}.po").unlink()
    code, _, _ = run(capsys, "--locales", str(locales_copy), "init", "tr")
    assert code == 0
    assert read_catalog(locales_copy / "tr/LC_MESSAGES/messages.po").num_plurals == 2


def test_extract_matches_the_shipped_template(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--locales", str(tmp_path), "extract")
    assert code == 0 and "messages.pot" in out
    fresh, shipped = read_catalog(tmp_path / "messages.pot"), read_catalog(LOCALES_DIR / "messages.pot")
    assert [(m.id, m.context, m.locations) for m in fresh] == [(m.id, m.context, m.locations) for m in shipped]


@pytest.mark.parametrize(
    "argv",
    [("--locales", "/nonexistent", "check"), ("--locales", "/nonexistent", "stats"), ("init", "not-a-language!")],
)
def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_runs_standalone() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridge.i18n_cli", "check"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok: 18 catalogs checked\n", "")

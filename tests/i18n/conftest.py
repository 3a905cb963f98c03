"""Shared fixtures for the i18n tests: the shipped catalogs and throwaway copies of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.i18n import Catalogs

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
SHIPPED = ("ar", "en", "es", "id", "lt", "pt_BR", "ru", "tr", "zh_Hans")


@pytest.fixture(scope="session")
def catalogs() -> Catalogs:
    return Catalogs(LOCALES_DIR)


@pytest.fixture
def locales_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped locales/ folder."""
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target, ignore=shutil.ignore_patterns("*.mo"))
    return target

"""Project-wide rules checked on every run: ruff, formatting, catalogs and constant-time secret comparison."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("bridge", "channels", "bench", "fuzz", "tests")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ruff_check_is_clean() -> None:
    result = _run("ruff", "check", *SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run("ruff", "format", "--check", *SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_catalogs_pass_i18n_check() -> None:
    result = _run("bridge.cli", "i18n", "check")
    assert result.returncode == 0, result.stdout + result.stderr


_UNSAFE_COMPARE = re.compile(r"(signature|secret|hash|token)\w*\s*[!=]=|[!=]=\s*\w*(signature|secret|hash|token)", re.I)


def test_secrets_are_compared_in_constant_time() -> None:
    """Chatwoot once compared webhook signatures with ==; every secret comparison must use hmac.compare_digest."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in ("bridge", "channels")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _UNSAFE_COMPARE.search(line) and "compare_digest" not in line and "# not a secret" not in line
    ]
    assert offenders == []


_IMPORT = re.compile(r"^\s*(?:from|import)\s+(channels(?:\.\w+)?)", re.M)


def test_dependencies_run_from_channels_to_bridge_only() -> None:
    """DESIGN.md: the core never imports a channel (app.py wires adapters in by name), channels never each other."""
    offenders = []
    for path in [*(ROOT / "bridge").rglob("*.py"), *(ROOT / "channels").rglob("*.py")]:
        parts = path.relative_to(ROOT).parts
        for imported in _IMPORT.findall(path.read_text(encoding="utf-8")):
            allowed = parts[0] == "channels" and imported in ("channels.base", f"channels.{parts[1]}")
            if not allowed:
                offenders.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert offenders == []

"""Every atheris target (reliability targets F22, F23) runs a bounded number of inputs clean, in its own process.

``python -m fuzz.run`` is what the nightly hour per target runs; here each target gets a few thousand inputs
from its seeds (``fuzz/seeds/<target>/``, which hold the reproducers of the bugs the fuzzing found) so a
regression fails CI. libFuzzer's seed is fixed here, so a failure replays; the nightly run explores. A target
with a planted bug shows the runner fails, writes a reproducer and replays it. Without atheris (a laptop without
the dev extras) the tests skip; in CI (``CI=true``) they run, and fail.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.run import TARGETS
from tests.fuzz.planted_bug import TRIGGER

ROOT = Path(__file__).resolve().parents[2]
# Inputs per target: the whole file stays under ~40 s on two cores. The slower targets render whole catalogs,
# parse Telegram's HTML of 5,000-character messages, or time their function, for every input.
RUNS = {"canned": 3_000, "telegram_markup": 3_000, "strip_html": 10_000, "mask_cards": 10_000}
DEFAULT_RUNS = 20_000

if importlib.util.find_spec("atheris") is None:
    reason = "atheris is not installed: pip install -e '.[dev]'"
    pytestmark = pytest.mark.skipif(os.environ.get("CI") != "true", reason=reason)  # CI runs them, and fails


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuzz.run", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("runs", sorted({RUNS.get(target, DEFAULT_RUNS) for target in TARGETS}))
def test_targets_run_clean(runs: int, tmp_path: Path) -> None:
    """No target raises an undocumented exception, breaks a property or takes superlinear time on its inputs."""
    targets = [target for target in TARGETS if RUNS.get(target, DEFAULT_RUNS) == runs]
    result = _run(*targets, "--runs", str(runs), "--jobs", "2", "--seed", "1", "--work", str(tmp_path))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert f"{len(targets)} of {len(targets)} targets clean" in result.stdout
    for target in targets:  # every input was run: libFuzzer's count may pass ``-runs`` by a few (20,007 once)
        done = re.search(r"^Done (\d+) runs", (tmp_path / target / "log.txt").read_text(), re.M)
        assert done is not None and int(done.group(1)) >= runs, target


def test_a_crashing_target_fails_the_run_with_a_reproducer(tmp_path: Path) -> None:
    """The planted bug fires on its seed: the run exits 1, names the reproducer, and replaying it fails the same way."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "trigger").write_bytes(TRIGGER + b" and more")
    work = tmp_path / "work"
    result = _run("tests.fuzz.planted_bug", "--seeds", str(seeds), "--runs", "100", "--work", str(work))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout and "the planted bug" in result.stdout
    reproducers = list((work / "tests.fuzz.planted_bug").glob("crash-*"))
    assert len(reproducers) == 1 and reproducers[0].read_bytes().startswith(TRIGGER)
    assert f"--replay {reproducers[0]}" in result.stdout

    replayed = _run("tests.fuzz.planted_bug", "--replay", str(reproducers[0]))
    assert replayed.returncode == 1
    assert "ValueError: the planted bug" in replayed.stderr


def test_a_clean_target_passes_the_same_run(tmp_path: Path) -> None:
    """The same run without the trigger in its seeds exits 0: the failure above is the bug's, not the runner's."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "harmless").write_bytes(b"nothing to see")
    result = _run("tests.fuzz.planted_bug", "--seeds", str(seeds), "--runs", "100", "--work", str(tmp_path / "work"))
    assert result.returncode == 0, result.stdout + result.stderr

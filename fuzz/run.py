"""Run the atheris targets: ``python -m fuzz.run [TARGET ...] (--seconds N | --runs N) [--jobs J]``.

Each target runs in a process of its own (atheris instruments the bridge's modules as they are imported, then
libFuzzer owns the process until it stops), seeded with ``fuzz/seeds/<target>/`` and with the inputs earlier runs
found in ``<work>/<target>/corpus/`` (default work folder: ``.fuzz/``). The exit code is 0 when every target
ran clean, 1 when one crashed: its reproducer is ``<work>/<target>/crash-<sha1>`` (or ``timeout-``/``oom-``), its
output ``<work>/<target>/log.txt``. Replay a reproducer without libFuzzer, with the traceback:

    python -m fuzz.run TARGET --replay .fuzz/TARGET/crash-<sha1>

The nightly run (reliability target F22: at least an hour, no new crashes), an hour per target, two at a time:

    python -m fuzz.run all --seconds 3600 --jobs 2

TARGET is a name below, ``all``, or ``package.module`` (a module with ``test_one_input``; give its seeds with
``--seeds``). Arguments after ``--`` go to libFuzzer (``-- -dict=...``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fuzz" / "seeds"
TARGETS: dict[str, tuple[str, ...]] = {  # target -> the top-level packages whose code atheris instruments
    "slack_verifier": ("bridge", "channels", "slack_sdk", "slack_bolt"),
    "telegram_update": ("bridge", "channels", "telegram"),
    "widget_frame": ("bridge", "channels"),
    "slack_mrkdwn": ("bridge", "channels"),
    "telegram_markup": ("bridge", "channels"),
    "canned": ("bridge", "babel"),
    "strip_html": ("bridge",),
    "mask_cards": ("bridge",),
}
TIMEOUT = 10  # seconds one input may take before libFuzzer reports a timeout (the linear-time checks are finer)


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str
    code: int
    seconds: float
    log: Path
    reproducers: tuple[Path, ...]


def module_name(target: str) -> str:
    return f"fuzz.{target}" if target in TARGETS else target


def load(target: str) -> ModuleType:
    module = importlib.import_module(module_name(target))
    if not callable(getattr(module, "test_one_input", None)):
        raise SystemExit(f"{module.__name__} has no test_one_input(data: bytes)")
    return module


def _child(target: str, libfuzzer: list[str]) -> None:
    """In the target's own process: instrument, import, and hand the process to libFuzzer (which exits)."""
    import atheris

    include = list(TARGETS.get(target, ("bridge", "channels")))
    sandbox = [f"bridge.sandbox.{info.name}" for info in pkgutil.iter_modules([str(ROOT / "bridge" / "sandbox")])]
    with atheris.instrument_imports(include=include, exclude=sandbox):  # the emulators are not under test
        module = load(target)
    max_len = getattr(module, "MAX_LEN", 4096)
    atheris.Setup([sys.argv[0], f"-max_len={max_len}", f"-timeout={TIMEOUT}", *libfuzzer], module.test_one_input)
    atheris.Fuzz()


def _replay(target: str, files: list[Path]) -> int:
    """Run ``files`` through the target in this process: 1 and the traceback for the first that fails."""
    module = load(target)
    for path in files:
        try:
            module.test_one_input(path.read_bytes())
        except Exception:
            traceback.print_exc()
            print(f"{path}: FAILED", file=sys.stderr)
            return 1
        print(f"{path}: ok")
    return 0


def _start(target: str, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], Path, float]:
    work = args.work / target.replace(":", "_")
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = args.seeds if args.seeds is not None else SEEDS / target
    limit = [f"-runs={args.runs}"] if args.runs is not None else [f"-max_total_time={args.seconds}"]
    libfuzzer = [*limit, f"-artifact_prefix={work}/", f"-seed={args.seed}", *args.libfuzzer, str(corpus)]
    if seeds.is_dir():
        libfuzzer.append(str(seeds))
    for old in work.glob("*-*"):  # reproducers of an earlier run: this run's must be its own
        if old.name.split("-", 1)[0] in ("crash", "timeout", "oom", "leak", "slow-unit"):
            old.unlink()
    log = work / "log.txt"
    command = [sys.executable, "-m", "fuzz.run", "--child", target, "--", *libfuzzer]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=_env())
    return process, log, time.monotonic()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    return env


def fuzz(targets: list[str], args: argparse.Namespace) -> list[Outcome]:
    """Run ``targets``, ``args.jobs`` at a time; each outcome as its target ends."""
    waiting, running, outcomes = list(targets), [], []
    while waiting or running:
        while waiting and len(running) < args.jobs:
            target = waiting.pop(0)
            running.append((target, *_start(target, args)))
        time.sleep(0.05)
        for entry in [entry for entry in running if entry[1].poll() is not None]:
            running.remove(entry)
            target, process, log, started = entry
            work = log.parent
            found = tuple(sorted(p for p in work.iterdir() if p.name.split("-", 1)[0] in ("crash", "timeout", "oom")))
            outcome = Outcome(target, process.returncode, time.monotonic() - started, log, found)
            outcomes.append(outcome)
            _report(outcome)
    return outcomes


def _report(outcome: Outcome) -> None:
    text = outcome.log.read_text(errors="replace")
    runs = [line for line in text.splitlines() if line.startswith("Done ")]
    summary = runs[-1] if runs else "no summary"
    if outcome.code == 0:
        print(f"fuzz: {outcome.target}: ok in {outcome.seconds:.1f} s ({summary})", flush=True)
        return
    print(f"fuzz: {outcome.target}: FAILED (exit {outcome.code}) after {outcome.seconds:.1f} s", flush=True)
    print("\n".join(text.splitlines()[-60:]), flush=True)
    for path in outcome.reproducers:
        print(f"fuzz: reproducer {path} (replay: python -m fuzz.run {outcome.target} --replay {path})", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    argv, libfuzzer = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    if argv[:1] == ["--child"]:
        _child(argv[1], libfuzzer)
        return 0
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.split("\n", 1)[0])
    parser.add_argument("targets", nargs="*", default=["all"], help=f"all, or some of: {', '.join(TARGETS)}")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--seconds", type=int, default=60, help="how long each target runs (default 60)")
    limit.add_argument("--runs", type=int, help="how many inputs each target runs, instead of --seconds")
    parser.add_argument("--jobs", type=int, default=1, help="targets run at the same time (default 1)")
    parser.add_argument("--work", type=Path, default=ROOT / ".fuzz", help="corpora, logs, reproducers (.fuzz/)")
    parser.add_argument("--seeds", type=Path, help="the seed folder of a TARGET given as package.module")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's random seed (default 0: a new one)")
    parser.add_argument("--replay", type=Path, nargs="+", help="run these inputs through one TARGET, no libFuzzer")
    args = parser.parse_args(argv)
    args.libfuzzer = libfuzzer
    targets = list(TARGETS) if args.targets == ["all"] else args.targets
    if args.replay:
        if len(targets) != 1:
            parser.error("--replay takes one TARGET")
        return _replay(targets[0], args.replay)
    outcomes = fuzz(targets, args)
    failed = [outcome.target for outcome in outcomes if outcome.code != 0]
    print(
        f"fuzz: {len(outcomes) - len(failed)} of {len(outcomes)} targets clean"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

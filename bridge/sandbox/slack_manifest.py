"""This module reads what the Slack emulator's composer offers from the app manifest: slash commands and shortcuts.

Slack learns an app's commands and shortcuts from its manifest (``slack-app-manifest.yml``); the emulator reads
the same file, so its composer suggests ``/announce`` with the manifest's usage hint, answers an unknown command
the way Slack does, and lists *Send canned answer* in a message's ⋯ menu. Only the two flat lists under
``features`` are read, with a line reader for that subset of YAML (no YAML library is a dependency).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[2] / "slack-app-manifest.yml"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlashCommand:
    """One ``features.slash_commands`` entry."""

    command: str
    description: str = ""
    usage_hint: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Shortcut:
    """One ``features.shortcuts`` entry (``type`` is ``message`` or ``global``)."""

    callback_id: str
    name: str
    type: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppManifest:
    """The parts of a Slack app manifest the emulator's page uses."""

    commands: tuple[SlashCommand, ...] = ()
    shortcuts: tuple[Shortcut, ...] = ()

    def command(self, name: str) -> SlashCommand | None:
        return next((c for c in self.commands if c.command == name), None)


def read_manifest(path: Path = MANIFEST) -> AppManifest:
    """The slash commands and shortcuts declared in the manifest at ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return AppManifest(
        commands=tuple(
            SlashCommand(command=i["command"], description=i.get("description", ""), usage_hint=i.get("usage_hint", ""))
            for i in _list_items(lines, "slash_commands")
            if "command" in i
        ),
        shortcuts=tuple(
            Shortcut(callback_id=i["callback_id"], name=i["name"], type=i["type"], description=i.get("description", ""))
            for i in _list_items(lines, "shortcuts")
            if {"callback_id", "name", "type"} <= i.keys()
        ),
    )


def _list_items(lines: list[str], key: str) -> list[dict[str, str]]:
    """The items of the block list ``key:`` (each ``- a: b`` starts one, ``  c: d`` continues it)."""
    items: list[dict[str, str]] = []
    indent: int | None = None
    for raw in lines:
        line = raw.rstrip()
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(stripped)
        if indent is None:
            if stripped == f"{key}:":
                indent = depth
            continue
        if depth <= indent and not stripped.startswith("- "):
            break
        if stripped.startswith("- "):
            items.append({})
            stripped = stripped[2:]
        name, sep, value = stripped.partition(":")
        if sep and items:
            items[-1][name.strip()] = _scalar(value.strip())
    return items


def _scalar(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value

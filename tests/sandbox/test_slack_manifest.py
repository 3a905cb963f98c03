"""The Slack emulator reads the app's commands and shortcuts from the manifest, as Slack does."""

from __future__ import annotations

from pathlib import Path

from bridge.sandbox.slack_manifest import AppManifest, Shortcut, SlashCommand, read_manifest

MANIFEST_TEXT = """\
display_information:
  name: Test
features:
  slash_commands:
    - command: /stats
      url: https://example.com/slack/events
      description: "Support figures: volume, CSAT"
      usage_hint: "[today | 7d]"
    - command: /away
      description: Stop being offered conversations
  shortcuts:
    - name: Send canned answer
      type: message
      callback_id: send_canned
    - name: Broken, no callback id
      type: global
oauth_config:
  scopes:
    bot:
      - commands   # /stats
"""


def test_reads_commands_and_shortcuts_and_nothing_after_them(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yml"
    path.write_text(MANIFEST_TEXT, encoding="utf-8")
    assert read_manifest(path) == AppManifest(
        commands=(
            SlashCommand(command="/stats", description="Support figures: volume, CSAT", usage_hint="[today | 7d]"),
            SlashCommand(command="/away", description="Stop being offered conversations"),
        ),
        shortcuts=(Shortcut(callback_id="send_canned", name="Send canned answer", type="message"),),
    )


def test_the_shipped_manifest_declares_every_command_the_demo_offers() -> None:
    manifest = read_manifest()
    assert [c.command for c in manifest.commands] == ["/canned", "/stats", "/available", "/away", "/announce"]
    assert manifest.command("/stats") == SlashCommand(
        command="/stats",
        description="Support figures (volume, response times, CSAT) for a period",
        usage_hint="[today | 7d | 30d | month]",
    )
    assert [(s.callback_id, s.type) for s in manifest.shortcuts] == [("send_canned", "message")]

"""The Slack emulator's agent page does what Slack's client does: commands, shortcuts, App Home, files, selects.

Each test drives the page's JSON endpoints (as app.js calls them) against a real bolt AsyncApp on loopback and
checks both what the app received (Slack's exact payloads) and what the page will show.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bridge.sandbox.slack import SlackEmulator
from bridge.sandbox.slack_manifest import AppManifest, Shortcut, SlashCommand
from tests.support.bolt_server import serving_bolt

SECRET = "test-signing-secret"

MANIFEST = AppManifest(
    commands=(SlashCommand(command="/stats", description="Support figures", usage_hint="[7d]"),),
    shortcuts=(Shortcut(callback_id="send_canned", name="Send canned answer", type="message"),),
)
CARD = [
    {
        "type": "actions",
        "block_id": "card",
        "elements": [
            {"type": "users_select", "action_id": "assign", "placeholder": {"type": "plain_text", "text": "Assign"}},
            {
                "type": "multi_static_select",
                "action_id": "tags",
                "options": [
                    {"text": {"type": "plain_text", "text": t.title()}, "value": t} for t in ("payment", "account")
                ],
            },
        ],
    }
]


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SECRET, manifest=MANIFEST)
    emu.retry_delays = (0.0, 0.05, 0.05)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url)


@pytest.fixture
async def bolt(emulator: SlackEmulator, client: AsyncWebClient) -> AsyncIterator[AsyncApp]:
    async with serving_bolt(emulator, SECRET, client) as app:
        yield app


async def ui(emulator: SlackEmulator, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | str]:
    async with aiohttp.ClientSession() as session, session.post(emulator.base_url + path, json=body) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if resp.content_type == "application/json" else text


def told(emulator: SlackEmulator, user: str = "U0AGENT1") -> list[tuple[str, str | None]]:
    return [(e["text"], e.get("thread_ts")) for e in emulator.ephemerals if e["user"] == user]


async def test_a_commands_answer_is_shown_to_whoever_typed_it(emulator: SlackEmulator, bolt: AsyncApp) -> None:
    """Before, the ack body of a slash command (``/stats``'s figures) was dropped: the agent saw nothing."""

    @bolt.command("/stats")
    async def stats(ack: Any) -> None:
        await ack(response_type="ephemeral", text="12 conversations")

    status, answer = await ui(emulator, "/ui/reply", {"user": "U0AGENT1", "text": "/stats 7d"})
    assert status == 200 and answer == {"ok": True, "command": "/stats"}
    await emulator.wait_for(lambda: bool(emulator.ephemerals))
    assert told(emulator) == [("12 conversations", None)]
    [command] = [d for d in emulator.deliveries if d.kind == "command"]
    assert command.status == 200


async def test_a_command_the_app_does_not_answer_fails_like_in_slack(emulator: SlackEmulator, bolt: AsyncApp) -> None:
    await emulator.post_command("/stats", "")  # no listener: bolt answers 404
    assert told(emulator) == [('/stats failed with the error "dispatch_failed"', None)]


async def test_notes_are_messages_and_commands_are_refused_where_slack_refuses_them(
    emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp
) -> None:
    """Before, "// note" went to the app as a slash command named "//" (404) and never reached the thread."""
    seen: list[dict[str, Any]] = []

    @bolt.event("message")
    async def message(event: dict[str, Any]) -> None:
        seen.append(event)

    root = (await client.chat_postMessage(channel="C0SUPPORT", text="card"))["ts"]
    status, answer = await ui(emulator, "/ui/reply", {"user": "U0AGENT1", "text": "// VIP", "thread_ts": root})
    assert status == 200 and answer["ok"] is True and "command" not in answer
    status, answer = await ui(emulator, "/ui/reply", {"user": "U0AGENT1", "text": "/stats", "thread_ts": root})
    assert answer == {"ok": False, "command": "/stats", "error": "/stats is not supported in threads. Sorry!"}
    status, answer = await ui(emulator, "/ui/reply", {"user": "U0AGENT1", "text": "/nope now"})
    assert answer["ok"] is False and answer["error"].startswith("/nope is not a valid command.")
    status, answer = await ui(emulator, "/ui/reply", {"user": "U0AGENT1", "text": "Morning all"})
    assert answer["ok"] is True

    await emulator.wait_for(lambda: len(seen) == 2)
    assert [(e["text"], e.get("thread_ts")) for e in seen] == [("// VIP", root), ("Morning all", None)]
    assert [m["text"] for m in emulator.channel_messages()] == ["card", "Morning all"]
    in_thread, unknown = told(emulator)
    assert in_thread == ("/stats is not supported in threads. Sorry!", root)  # Slackbot answers where it was typed
    assert unknown[0].startswith("/nope is not a valid command.") and unknown[1] is None
    assert not [d for d in emulator.deliveries if d.kind == "command"]


async def test_message_shortcut_sends_a_message_action(
    emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp
) -> None:
    shortcuts: list[dict[str, Any]] = []

    @bolt.message_shortcut("send_canned")
    async def canned(ack: Any, shortcut: dict[str, Any]) -> None:
        await ack()
        shortcuts.append(shortcut)

    root = (await client.chat_postMessage(channel="C0SUPPORT", text="card"))["ts"]
    reply = (await client.chat_postMessage(channel="C0SUPPORT", text="customer", thread_ts=root))["ts"]
    body = {"message_ts": reply, "callback_id": "send_canned", "user": "U0AGENT2"}
    assert (await ui(emulator, "/ui/shortcut", body))[1] == {"ok": True, "status": 200}
    [shortcut] = shortcuts
    assert shortcut["type"] == "message_action" and shortcut["message"]["thread_ts"] == root
    assert shortcut["user"]["id"] == "U0AGENT2" and shortcut["channel"]["id"] == "C0SUPPORT"
    assert shortcut["trigger_id"] and shortcut["response_url"].startswith(emulator.base_url)

    assert (await ui(emulator, "/ui/shortcut", {**body, "callback_id": "other"}))[0] == 404
    assert (await ui(emulator, "/ui/shortcut", {**body, "message_ts": "1.2"}))[0] == 404
    assert (await ui(emulator, "/ui/shortcut", {**body, "user": "U0BOT"}))[0] == 400
    assert len(shortcuts) == 1


async def test_opening_home_sends_app_home_opened_and_its_buttons_act_on_the_view(
    emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp
) -> None:
    clicks: list[dict[str, Any]] = []
    opens: list[dict[str, Any]] = []

    @bolt.event("app_home_opened")
    async def opened(event: dict[str, Any]) -> None:
        opens.append(event)
        button = {"type": "button", "action_id": "home_available", "text": {"type": "plain_text", "text": "On"}}
        blocks = [{"type": "actions", "elements": [button]}]
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": blocks})

    @bolt.action("home_available")
    async def available(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        clicks.append(body)

    assert (await ui(emulator, "/ui/home", {"user": "U0AGENT1"}))[1] == {"ok": True, "status": 200}
    await emulator.wait_for(lambda: "U0AGENT1" in emulator.ui_state()["homes"])
    home = emulator.ui_state()["homes"]["U0AGENT1"]
    body = {"view_id": home["id"], "action_id": "home_available", "user": "U0AGENT1"}
    assert (await ui(emulator, "/ui/action", body))[1] == {"ok": True, "status": 200}
    assert clicks[0]["container"] == {"type": "view", "view_id": home["id"]}
    assert (await ui(emulator, "/ui/action", {**body, "action_id": "nope"}))[0] == 404

    assert (await emulator.open_home("U0AGENT1"))[0] == 200
    await emulator.wait_for(lambda: len(opens) == 2)
    first, again = opens
    assert first == {**first, "type": "app_home_opened", "user": "U0AGENT1", "channel": "D0AGENT1", "tab": "home"}
    assert "view" not in first and again["view"]["id"] == home["id"]  # Slack sends the view published before
    assert emulator.ui_state()["homes"]["U0AGENT1"]["id"] == home["id"]  # republishing keeps one Home view


async def test_selects_send_what_slack_sends(emulator: SlackEmulator, client: AsyncWebClient, bolt: AsyncApp) -> None:
    actions: list[dict[str, Any]] = []

    async def record(ack: Any, action: dict[str, Any]) -> None:
        await ack()
        actions.append(action)

    bolt.action("assign")(record)
    bolt.action("tags")(record)
    ts = (await client.chat_postMessage(channel="C0SUPPORT", text="card", blocks=CARD))["ts"]
    await ui(emulator, "/ui/action", {"message_ts": ts, "action_id": "assign", "user": "U0AGENT1", "value": "U0AGENT2"})
    tags = {"message_ts": ts, "action_id": "tags", "user": "U0AGENT1", "value": "payment,account"}
    await ui(emulator, "/ui/action", tags)
    assert actions[0]["type"] == "users_select" and actions[0]["selected_user"] == "U0AGENT2"
    assert [o["value"] for o in actions[1]["selected_options"]] == ["payment", "account"]
    state = emulator.ui_state()
    assert state["commands"] == [{"command": "/stats", "description": "Support figures", "usage_hint": "[7d]"}]
    assert [s["name"] for s in state["shortcuts"]] == ["Send canned answer"]


async def test_shared_files_download_from_the_page(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    root = (await client.chat_postMessage(channel="C0SUPPORT", text="card"))["ts"]
    await client.files_upload_v2(
        channel="C0SUPPORT", thread_ts=root, filename="transcript-1.txt", content="Ana: hello", title="Transcript"
    )
    [shared] = [m for m in emulator.thread(root) if m.get("files")]
    file_id = shared["files"][0]["id"]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{emulator.base_url}/ui/files/{file_id}") as resp:
            assert resp.status == 200 and await resp.text() == "Ana: hello"
            assert resp.headers["Content-Disposition"] == 'attachment; filename="transcript-1.txt"'
        async with session.get(f"{emulator.base_url}/ui/files/F0NOPE") as resp:
            assert resp.status == 404


async def test_an_svg_a_customer_sent_downloads_instead_of_running_on_the_page(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    root = (await client.chat_postMessage(channel="C0SUPPORT", text="card"))["ts"]
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    await client.files_upload_v2(channel="C0SUPPORT", thread_ts=root, filename="cat.svg", content=svg)
    await client.files_upload_v2(channel="C0SUPPORT", thread_ts=root, filename="cat.png", content=b"\x89PNG\r\n")
    svg_id, png_id = [m["files"][0]["id"] for m in emulator.thread(root) if m.get("files")]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{emulator.base_url}/ui/files/{svg_id}") as resp:
            assert resp.headers["Content-Disposition"].startswith("attachment")
            assert resp.headers["Content-Security-Policy"].startswith("sandbox")
        async with session.get(f"{emulator.base_url}/ui/files/{png_id}") as resp:
            assert resp.headers["Content-Disposition"].startswith("inline")

"""GDPR (targets H29): `switchboard contact export` holds every message of a person, and `switchboard contact erase`
leaves nothing of them in any table, deletes the bot's copies in Slack and Telegram and lists what it could not,
while another customer's rows and Slack thread stay exactly as they were.

The person is Siti, who wrote from the widget (giving her email, and sending a file she uploaded; another upload of
hers was never sent) and from Telegram: two contacts, named together on the command line. Bob is the other customer;
his uploaded file stays on disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from bridge.cli import main
from bridge.config import TelegramSettings
from bridge.sandbox import telegram as telegram_sandbox
from bridge.sandbox.slack import SlackEmulator
from bridge.sandbox.telegram import TelegramEmulator
from bridge.store import create_engine
from channels.web.sessions import visitor_id
from tests.support.harness import (
    BOT_TOKEN,
    SIGNING_SECRET,
    SUPPORT,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    Harness,
    Widget,
    running_bridge,
    running_slack,
)
from tests.support.uploads import upload

CHAT = 987654321  # Siti's Telegram chat
EMAIL = "siti@example.com"
MARK = "ZEBRA"  # in everything Siti and the agents say to her: after the erase it is in no table
KEEP = "KEEP-BOB"
ALEX = "U0AGENT1"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (4).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(25)
Rows = dict[str, list[dict[str, Any]]]


@dataclass
class World:
    """The emulators outlive the bridge: erase runs with the bridge stopped and Slack and Telegram still there."""

    db_url: str
    tmp_path: Path
    slack: SlackEmulator
    slack_server: TestServer
    telegram: TelegramEmulator
    telegram_url: str

    def telegram_settings(self) -> TelegramSettings:
        return TelegramSettings(
            bot_token=TELEGRAM_TOKEN,
            mode="webhook",
            webhook_secret=TELEGRAM_SECRET,
            api_url=f"{self.telegram_url}/bot",
            file_url=f"{self.telegram_url}/file/bot",
        )

    @asynccontextmanager
    async def bridge(self) -> AsyncIterator[Harness]:
        async with running_bridge(
            self.db_url, self.tmp_path, self.slack, self.slack_server, telegram=self.telegram_settings()
        ) as h:
            h.telegram = self.telegram
            yield h

    def env(self, *, port: int) -> dict[str, str]:
        """The operator's settings for the command: the bridge's database, Slack and Telegram."""
        telegram = self.telegram_settings()
        return {
            "SWITCHBOARD_DATABASE_URL": self.db_url,
            "SWITCHBOARD_DATA_DIR": str(self.tmp_path),  # the bridge's: its uploads folder
            "SWITCHBOARD_PORT": str(port),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_SUPPORT_CHANNEL": SUPPORT,
            "SLACK_API_URL": str(self.slack_server.make_url("/api/")),
            "TELEGRAM_BOT_TOKEN": telegram.bot_token,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": telegram.api_url,
            "TELEGRAM_FILE_URL": telegram.file_url,
        }


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    emulator = TelegramEmulator(token=TELEGRAM_TOKEN, webhook_retry_delays=(0.05,))
    async with telegram_sandbox.serve(emulator) as telegram_url, running_slack() as (slack, slack_server):
        yield World(db_url, tmp_path, slack, slack_server, emulator, telegram_url)


# ------------------------------------------------------------------------------------------------- the history


async def _new_root(h: Harness, count: int) -> dict[str, Any]:
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == count)
    return h.slack.channel_messages()[-1]


async def _customer_gets(widget: Widget, text: str) -> dict[str, Any]:
    while True:
        frame = await widget.expect("message")
        if text in frame["message"]["text"]:
            return dict(frame["message"])


async def _send_file(h: Harness, widget: Widget, name: str, client_id: str) -> None:
    sent = await upload(h, widget.welcome["session"], PNG, name=name)
    assert sent.status == 201, sent.body
    await widget.send({"type": "message", "client_id": client_id, "text": "", "attachments": [sent.body["upload"]]})
    await widget.expect("ack")


async def make_history(h: Harness) -> str:
    """Bob, then Siti (widget with a file and a survey answer, then Telegram with a photo); returns Siti's widget
    session."""
    assert h.telegram is not None
    slack, telegram = h.slack, h.telegram
    async with h.widget(name="Bob", locale="en", email="bob@example.com") as bob:
        await bob.say(f"{KEEP} where is my parcel?", "b1")
        bob_root = await _new_root(h, 1)
        await _send_file(h, bob, f"{KEEP}-label.png", "b2")
        await slack.agent_says(f"{KEEP} it is on its way", thread_ts=bob_root["ts"])
        await _customer_gets(bob, KEEP)

    async with h.widget(name="Siti", locale="en", email=EMAIL) as siti:
        session = str(siti.welcome["session"])
        await siti.say(f"{MARK} my card was charged twice", "s1")
        root = await _new_root(h, 2)
        await _send_file(h, siti, f"{MARK}-statement.png", "s2")
        assert (await upload(h, session, PNG, name=f"{MARK}-never-sent.png")).status == 201
        await slack.wait_for(lambda: any(m.get("files") for m in slack.thread(root["ts"])))
        await slack.agent_says(f"{MARK} refund on its way", thread_ts=root["ts"])
        await _customer_gets(siti, f"{MARK} refund")
        await slack.click_button(root["ts"], "desk_close", user=ALEX)
        while not (survey := next((f["message"] for f in siti.seen if _offers_choices(f)), None)):
            await siti.expect("message")
        await siti.send({"type": "choose", "message_id": survey["id"], "choice": "csat:4"})
        await siti.expect("chosen")

    telegram.user_sends(CHAT, f"{MARK} also asking here", first_name="Siti")
    telegram.user_sends(CHAT, photo=PNG, caption=f"{MARK} the receipt", first_name="Siti")
    root = await _new_root(h, 3)
    await slack.wait_for(lambda: any(m.get("files") for m in slack.thread(root["ts"])))
    await slack.agent_says(f"{MARK} thanks, found it", thread_ts=root["ts"])
    await slack.agent_says(f"{MARK} anything else?", thread_ts=root["ts"])
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) >= 2)
    await h.settled()
    return session


def _offers_choices(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and bool(frame["message"].get("choices"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------- database checks


async def snapshot(url: str) -> tuple[sa.MetaData, Rows]:
    """Every table in the database (reflected, not the model's list) and all its rows."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync: sa.Connection) -> tuple[sa.MetaData, Rows]:
                meta = sa.MetaData()
                meta.reflect(sync)
                rows = {
                    name: [dict(r._mapping) for r in sync.execute(sa.select(t)).all()]
                    for name, t in meta.tables.items()
                }
                return meta, rows

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def owned_by(meta: sa.MetaData, rows: Rows, contact_ids: set[int]) -> Rows:
    """The rows that belong to these contacts: theirs, and every row that references one of those, transitively,
    following each table's foreign keys (whatever tables there are)."""
    owned: Rows = {name: [] for name in rows}
    owned["contact"] = [r for r in rows["contact"] if r["id"] in contact_ids]
    changed = True
    while changed:
        changed = False
        for name, table in meta.tables.items():
            for fk in table.foreign_keys:
                values = {r[fk.column.name] for r in owned[fk.column.table.name]}
                for row in rows[name]:
                    if row[fk.parent.name] in values and row not in owned[name]:
                        owned[name].append(row)
                        changed = True
    return owned


def contact_ids(rows: Rows, *, name: str) -> set[int]:
    return {r["id"] for r in rows["contact"] if r["display_name"] == name}


def _strings(value: Any) -> str:
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))


# ------------------------------------------------------------------------------------------------- the command


async def switchboard(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> int:
    """``bridge.cli.main`` as the operator runs it, in a thread (it runs its own event loop) while the emulators
    serve on this one."""
    for key in list(os.environ):
        if key.startswith(("SLACK_", "SWITCHBOARD_", "TELEGRAM_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return await asyncio.to_thread(main, list(args))


SITI = ("--email", EMAIL.upper(), "--telegram-chat", str(CHAT))


async def test_export_holds_everything_and_erase_leaves_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    slack, telegram = world.slack, world.telegram
    async with world.bridge() as h:
        session = await make_history(h)
        env = world.env(port=h.server.port)  # the bridge answers there
        before_meta, before = await snapshot(world.db_url)
        assert await switchboard(monkeypatch, env, "contact", "erase", *SITI, "--yes") == 1
        assert "a bridge is serving this database: stop `switchboard serve` first" in capsys.readouterr().err
        assert (await snapshot(world.db_url))[1] == before
    env = world.env(port=_free_port())

    # Refusals change nothing: an unknown person (even beside a known one), no confirmation without a terminal.
    assert await switchboard(monkeypatch, env, "contact", "erase", *SITI, "--email", "nobody@example.com", "--yes") == 1
    assert capsys.readouterr().err == (
        "switchboard: error: no contact found for email nobody@example.com; nothing was erased\n"
    )
    assert (
        await switchboard(
            monkeypatch, env, "contact", "export", "--telegram-chat", "5", "-o", str(world.tmp_path / "x.json")
        )
        == 1
    )
    assert "no contact found for Telegram chat 5" in capsys.readouterr().err
    assert await switchboard(monkeypatch, env, "contact", "erase", *SITI) == 1
    assert "refusing to erase without --yes" in capsys.readouterr().err
    assert await switchboard(monkeypatch, env, "contact", "erase") == 2
    assert "name the person" in capsys.readouterr().err
    no_slack = {**env, "SLACK_API_URL": f"http://127.0.0.1:{_free_port()}/api/"}
    assert await switchboard(monkeypatch, no_slack, "contact", "erase", *SITI, "--yes") == 1
    assert "cannot reach Slack" in capsys.readouterr().err
    assert (await snapshot(world.db_url))[1] == before
    assert slack.calls_to("chat.delete") == [] and not any(name == "deleteMessage" for name, _ in telegram.requests)

    siti_ids = contact_ids(before, name="Siti")
    assert len(siti_ids) == 2  # the widget's contact and the Telegram one
    siti = owned_by(before_meta, before, siti_ids)
    for table in ("contact", "identity", "conversation", "message", "delivery"):
        assert siti[table], f"the history has no {table} rows of Siti's"
    bob = owned_by(before_meta, before, contact_ids(before, name="Bob"))

    # Export: one JSON file with 100% of Siti's messages and the rest of her rows.
    out = world.tmp_path / "siti.json"
    assert await switchboard(monkeypatch, env, "contact", "export", *SITI, "-o", str(out)) == 0
    assert "exported contact #" in capsys.readouterr().err
    assert out.stat().st_mode & 0o777 == 0o600
    document = orjson.loads(out.read_bytes())
    exported = [m for c in document["contacts"] for conv in c["conversations"] for m in conv["messages"]]
    assert sorted(m["id"] for m in exported) == sorted(m["id"] for m in siti["message"])
    assert document["message_count"] == len(siti["message"])
    stored = {m["id"]: m for m in siti["message"]}
    for message in exported:
        row = stored[message["id"]]
        assert (message["text"], message["author_kind"], message["direction"]) == (
            row["text"],
            row["author_kind"],
            row["direction"],
        )
        assert message["attachments"] == row["attachments"] and message["created_at"]
    files = [a for m in exported for a in m["attachments"]]  # the files' metadata (the bytes are not exported)
    assert len(files) == 2 and all({"name", "media_type", "size", "url"} <= f.keys() for f in files)
    assert {"name": f"{MARK}-statement.png", "media_type": "image/png", "size": len(PNG)}.items() <= files[0].items()
    assert files[0]["url"].startswith("widget-file:") and files[1]["url"].startswith("telegram-file:")
    surveys = [conv["survey"]["score"] for c in document["contacts"] for conv in c["conversations"]]
    assert 4 in surveys
    identities = {(i["channel"], i["external_id"]) for c in document["contacts"] for i in c["identities"]}
    assert ("telegram", str(CHAT)) in identities and len(identities) == 2
    assert {c["email"] or c["attributes"].get("email") for c in document["contacts"]} >= {EMAIL}
    assert KEEP not in out.read_text()  # nothing of Bob's

    # The Slack copies before: Siti's threads, the bot's posts and files there; Bob's thread.
    threads = [c["slack_thread_ts"] for c in siti["conversation"]]
    bot_files = [f["id"] for ts in threads for m in slack.thread(ts) if m.get("bot_id") for f in m.get("files") or ()]
    assert len(bot_files) == 2  # the widget file and the Telegram photo, uploaded by the bot
    uploads = world.tmp_path / "uploads"
    siti_folder, bob_folder = uploads / visitor_id(session), uploads / bob["identity"][0]["external_id"]
    assert len(list(siti_folder.iterdir())) == 4 and len(list(bob_folder.iterdir())) == 2  # bytes + metadata each
    bob_files = {path.name: path.read_bytes() for path in bob_folder.iterdir()}
    agents = [(ts, m["ts"]) for ts in threads for m in slack.thread(ts) if m.get("user") == ALEX]
    [bob_thread] = [c["slack_thread_ts"] for c in bob["conversation"]]
    bob_before = (slack.thread(bob_thread), [m for m in slack.channel_messages() if m["ts"] == bob_thread])
    bot_replies = [m for m in telegram.transcript(CHAT)["messages"] if m["from"]["is_bot"]]
    assert len(bot_replies) >= 2
    telegram.fail_next(
        "deleteMessage", chat_id=CHAT, status=400, description="Bad Request: message can't be deleted for everyone"
    )

    assert await switchboard(monkeypatch, env, "contact", "erase", *SITI, "--yes") == 0
    report = capsys.readouterr().out

    # 0 rows of Siti's in every table; every other row exactly as it was.
    after_meta, after = await snapshot(world.db_url)
    assert set(after_meta.tables) == set(before_meta.tables)
    for name in after:
        remaining = [row for row in before[name] if row not in siti[name]]
        assert _sorted(after[name]) == _sorted(remaining), name
        for fk in after_meta.tables[name].foreign_keys:
            gone = {r[fk.column.name] for r in siti[fk.column.table.name]}
            assert not [r for r in after[name] if r[fk.parent.name] in gone], f"{name}.{fk.parent.name}"
    needles = [MARK, EMAIL, *(i["external_id"] for i in siti["identity"])]
    found = [
        (name, needle)
        for name, rows in after.items()
        for row in rows
        for value in row.values()
        for needle in needles
        if needle in _strings(value)
    ]
    assert found == []
    assert all(row in after[name] for name, rows in bob.items() for row in rows)

    # Slack: the bot's posts and files in Siti's threads are gone, the cards too; the agents' replies are listed.
    for ts in threads:
        assert [m for m in slack.thread(ts) if m.get("bot_id")] == []
        assert all(m.get("subtype") == "tombstone" for m in slack.channel_messages() if m["ts"] == ts)
    assert not set(bot_files) & set(slack.files)
    for thread_ts, ts in agents:
        assert f"message {ts} in thread {thread_ts}" in report and "written by U0AGENT1" in report
    assert (slack.thread(bob_thread), [m for m in slack.channel_messages() if m["ts"] == bob_thread]) == bob_before
    leftover_slack = [m for ts in threads for m in slack.thread(ts)]
    assert len(leftover_slack) == len(agents)  # only what people wrote is left
    assert "database rows deleted: delivery " in report and f"contact {len(siti_ids)}" in report

    # Her uploaded files are gone from disk, the one she never sent too; Bob's are untouched.
    assert not siti_folder.exists()
    assert {path.name: path.read_bytes() for path in bob_folder.iterdir()} == bob_files
    assert "uploads: 2 files the person sent from the widget deleted" in report

    # Telegram: the bot's replies are deleted but the one Telegram refused, which the report names.
    left = [m for m in telegram.transcript(CHAT)["messages"] if m["from"]["is_bot"]]
    assert [m["message_id"] for m in left] == [bot_replies[0]["message_id"]]
    assert f"telegram chat {CHAT} message {bot_replies[0]['message_id']}: Telegram refused" in report
    assert f"telegram chat {CHAT}: 2 messages the customer sent stay in their own Telegram app" in report

    # Back in service: Siti's old widget session is refused; her next Telegram message opens a new conversation
    # whose id no erased conversation ever had (SQLite AUTOINCREMENT), in a new thread.
    async with world.bridge() as h:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(h.url("/widget/ws"), headers={"Origin": h.origin})
            await ws.send_str(orjson.dumps({"type": "hello", "session": session, "last_seen": 0}).decode())
            frame = orjson.loads((await ws.receive()).data)
            await ws.close()
        assert (frame["type"], frame["code"]) == ("error", "bad_session")
        roots = len(slack.channel_messages())
        telegram.user_sends(CHAT, "hello again", first_name="Siti")
        await h.slack.wait_for(lambda: len(slack.channel_messages()) == roots + 1)
        row = await h.bridge.store.fetch_one(sa.text("SELECT max(id) FROM conversation"))
        assert row is not None and row[0] > max(c["id"] for c in siti["conversation"])

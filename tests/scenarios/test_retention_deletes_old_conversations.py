"""Retention (target H30): with SWITCHBOARD_RETENTION_DAYS = N, a resolved conversation whose last activity is older
than N days is gone within 24 h of crossing N (runs here at N - 1 h, N + 1 h and N + 23 h on a fake clock), with
its messages, deliveries, survey answer and the files its customer uploaded, and its contact when nothing else is
left; newer conversations and open ones, however old, stay exactly as they were, files included (the Rocket.Chat
#12862 class of bug: a purge that takes too much)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge.config import ConfigError, Settings
from bridge.engine import CONTACT, CONVERSATION, DELIVERY, IDENTITY, MESSAGE
from bridge.events import AgentReply, ChannelKind, ExternalRef, ReceiptStatus
from bridge.model import as_utc
from bridge.retention import Retention
from channels.web.sessions import visitor_id
from tests.support.harness import Harness, Widget, running_bridge, running_slack
from tests.support.uploads import PNG, download, upload

DAYS = 30
ALEX = "U0AGENT1"
SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_SUPPORT_CHANNEL": "C0123ABCD"}


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


@pytest.fixture
async def bridge(db_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Harness]:
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, clock=clock, retention_days=DAYS) as h,
    ):
        yield h


# ------------------------------------------------------------------------------------------------- the history


async def _root(h: Harness, count: int) -> str:
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == count)
    return str(h.slack.channel_messages()[-1]["ts"])


async def _until(widget: Widget, kind: str, test: Any = lambda frame: True) -> dict[str, Any]:
    while not test(frame := await widget.expect(kind)):
        pass
    return frame


async def conversation(
    h: Harness, name: str, *, close: bool, rate: bool = False, file: bool = False
) -> tuple[int, str, str]:
    """A widget customer writes (and sends a file), an agent answers (and closes, and the customer rates); the
    conversation's id, its thread and the customer's session."""
    count = len(h.slack.channel_messages()) + 1
    async with h.widget(name=name, locale="en") as widget:
        session = str(widget.welcome["session"])
        await widget.say(f"{name} needs help", "c1")
        root = await _root(h, count)
        if file:
            sent = await upload(h, session, PNG, name=f"{name}.png")
            await widget.send({"type": "message", "client_id": "f1", "text": "", "attachments": [sent.body["upload"]]})
            await widget.expect("ack")
        await h.slack.agent_says(f"hello {name}", thread_ts=root)
        await _until(widget, "message", lambda f: f["message"]["text"].endswith(f"hello {name}"))
        if close:
            await h.slack.click_button(root, "desk_close", user=ALEX)
            survey = await _until(widget, "message", lambda f: bool(f["message"].get("choices")))
            if rate:
                await widget.send({"type": "choose", "message_id": survey["message"]["id"], "choice": "csat:5"})
                await widget.expect("chosen")
    row = await h.bridge.store.fetch_one(sa.select(CONVERSATION.c.id).where(CONVERSATION.c.slack_thread_ts == root))
    assert row is not None
    await h.settled()
    return int(row.id), root, session


async def backdate(h: Harness, conversation_id: int, days: float) -> None:
    """Move every timestamp of the conversation, its messages, deliveries, contact and identity ``days`` back: the
    history as it would be had it happened then."""
    delta = timedelta(days=days)

    async def job(conn: AsyncConnection) -> None:
        contact = (
            await conn.execute(
                sa.select(CONVERSATION.c.contact_id, CONVERSATION.c.identity_id).where(
                    CONVERSATION.c.id == conversation_id
                )
            )
        ).one()
        for table, where in (
            (CONVERSATION, CONVERSATION.c.id == conversation_id),
            (MESSAGE, MESSAGE.c.conversation_id == conversation_id),
            (DELIVERY, DELIVERY.c.conversation_id == conversation_id),
            (CONTACT, CONTACT.c.id == contact.contact_id),
            (IDENTITY, IDENTITY.c.id == contact.identity_id),
        ):
            times = [c for c in table.columns if isinstance(c.type, sa.DateTime)]
            for row in (await conn.execute(sa.select(table.c.id, *times).where(where))).all():
                moved = {c.name: as_utc(row._mapping[c]) - delta for c in times if row._mapping[c] is not None}
                await conn.execute(sa.update(table).where(table.c.id == row.id).values(**moved))

    await h.bridge.store.writer.run(job)


async def expired_with_a_file(h: Harness, name: str) -> tuple[int, str, Path]:
    """``name`` sent a file in a conversation that was closed longer ago than retention keeps: its id, the customer's
    session and the file on disk."""
    conversation_id, _, session = await conversation(h, name, close=True, file=True)
    folder = h.settings.data_dir / "uploads" / visitor_id(session)
    [sent] = [path for path in folder.iterdir() if not path.name.endswith(".json")]
    await backdate(h, conversation_id, DAYS + 10)
    return conversation_id, session, sent


async def rows_of(h: Harness, conversation_id: int) -> dict[str, list[Any]]:
    """The conversation's rows in every table it has rows in (contact and identity included)."""
    store = h.bridge.store
    found: dict[str, list[Any]] = {
        "conversation": list(
            await store.fetch_all(sa.select(CONVERSATION).where(CONVERSATION.c.id == conversation_id))
        ),
        "message": list(await store.fetch_all(sa.select(MESSAGE).where(MESSAGE.c.conversation_id == conversation_id))),
        "delivery": list(
            await store.fetch_all(sa.select(DELIVERY).where(DELIVERY.c.conversation_id == conversation_id))
        ),
    }
    contact_ids = {row.contact_id for row in found["conversation"]}
    found["contact"] = list(await store.fetch_all(sa.select(CONTACT).where(CONTACT.c.id.in_(contact_ids))))
    found["identity"] = list(await store.fetch_all(sa.select(IDENTITY).where(IDENTITY.c.contact_id.in_(contact_ids))))
    return found


async def count(h: Harness, table: sa.Table) -> int:
    row = await h.bridge.store.fetch_one(sa.select(sa.func.count()).select_from(table))
    assert row is not None
    return int(row[0])


# ------------------------------------------------------------------------------------------------------ tests


async def test_old_resolved_conversations_go_within_a_day_of_crossing_n_days(bridge: Harness, clock: FakeClock) -> None:
    h = bridge
    assert h.bridge.retention is not None
    ann, ann_thread, ann_session = await conversation(h, "Ann", close=True, rate=True, file=True)
    ben, _, _ = await conversation(h, "Ben", close=True)
    cid, _, cid_session = await conversation(h, "Cid", close=False, file=True)
    dot, _, dot_session = await conversation(h, "Dot", close=True, file=True)
    uploads = h.settings.data_dir / "uploads"
    folders = {who: uploads / visitor_id(session) for who, session in (("ann", ann_session), ("cid", cid_session))}
    folders["dot"] = uploads / visitor_id(dot_session)
    kept_files = {who: sorted(path.name for path in folders[who].iterdir()) for who in ("cid", "dot")}
    assert len(list(folders["ann"].iterdir())) == 2 and all(len(names) == 2 for names in kept_files.values())
    await backdate(h, ann, 40)
    await backdate(h, ben, 29)
    await backdate(h, cid, 80)  # open for 80 days (her session, 90, still valid), then she writes: open ones stay
    async with h.widget(session=cid_session) as widget:
        ack = await widget.say("still there?", "c2")
    await h.settled()
    recent = await h.bridge.store.fetch_one(sa.select(MESSAGE.c.conversation_id).where(MESSAGE.c.id == ack["id"]))
    assert recent is not None and recent.conversation_id == cid
    t0 = datetime.now(UTC)
    keep = {conversation_id: await rows_of(h, conversation_id) for conversation_id in (ben, cid, dot)}
    ann_rows = await rows_of(h, ann)
    assert ann_rows["conversation"][0].csat_score == 5  # the survey answer lives on the conversation row
    # The engine knows Ann's thread (an agent replied there): retention must make it forget it.
    agent = ExternalRef(channel=ChannelKind.SLACK, external_id=ALEX)

    # N days - 1 h after Ann's last activity: nothing goes.
    clock.now = t0 - timedelta(days=40) + timedelta(days=DAYS) - timedelta(hours=1)
    purged = await h.bridge.retention.run_once()
    assert (purged.conversations, purged.contacts, purged.files) == (0, 0, 0)
    assert await rows_of(h, ann) == ann_rows
    assert len(list(folders["ann"].iterdir())) == 2

    # N days + 1 h: Ann's conversation is gone with every message, delivery and her contact; the rest is intact.
    clock.now = t0 - timedelta(days=40) + timedelta(days=DAYS) + timedelta(hours=1)
    purged = await h.bridge.retention.run_once()
    assert purged.conversations == 1 and purged.messages == len(ann_rows["message"]) and purged.contacts == 1
    assert purged.deliveries == len(ann_rows["delivery"]) and purged.identities == 1
    assert purged.files == 1 and not folders["ann"].exists()  # her file, then her (now empty) folder
    gone = await rows_of(h, ann)
    assert gone == {"conversation": [], "message": [], "delivery": [], "contact": [], "identity": []}
    ann_contact = ann_rows["contact"][0].id
    assert await h.bridge.store.fetch_one(sa.select(CONTACT.c.id).where(CONTACT.c.id == ann_contact)) is None
    for conversation_id, rows in keep.items():
        assert await rows_of(h, conversation_id) == rows
    late = AgentReply(thread_ref=ann_thread, agent=agent, source_id="C0SUPPORT:late", text="late reply")
    assert (await h.bridge.engine.receive(late)).status is ReceiptStatus.IGNORED  # not routed to a deleted one

    # Ben crosses N days 11 days later; 23 h after that he is gone too. Cid (open) and Dot (recent) stay.
    clock.now = t0 - timedelta(days=29) + timedelta(days=DAYS) + timedelta(hours=23)
    purged = await h.bridge.retention.run_once()
    assert (purged.conversations, purged.contacts) == (1, 1)
    assert (await rows_of(h, ben))["conversation"] == []
    for conversation_id in (cid, dot):
        assert await rows_of(h, conversation_id) == keep[conversation_id]
    assert await count(h, CONVERSATION) == 2
    assert {who: sorted(path.name for path in folders[who].iterdir()) for who in ("cid", "dot")} == kept_files
    assert h.bridge.retention.runs == 3


async def test_the_files_of_a_deleted_conversation_go_and_its_visitors_other_uploads_stay(
    bridge: Harness, clock: FakeClock
) -> None:
    """Fay's old conversation (with the file she sent) goes; she came back since, so she stays, and so does the file
    she uploaded later and has not sent yet."""
    h = bridge
    assert h.bridge.retention is not None
    fay, session, sent = await expired_with_a_file(h, "Fay")
    folder = sent.parent
    async with h.widget(session=session):  # her hello renews her session: her contact stays
        unsent = await upload(h, session, PNG, name="later.png")
    purged = await h.bridge.retention.run_once()
    assert (purged.conversations, purged.contacts, purged.files) == (1, 0, 1)
    assert (await rows_of(h, fay))["conversation"] == []
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [unsent.body["upload"], f"{unsent.body['upload']}.json"]
    )
    assert not sent.exists()


async def test_a_file_sent_again_in_a_conversation_that_stays_is_kept(bridge: Harness, clock: FakeClock) -> None:
    """Gil sent a file in a conversation that expires, and the same upload again in a new one: the old conversation
    goes, the file stays for the new one, and he can still open it there."""
    h = bridge
    assert h.bridge.retention is not None
    gil, session, sent = await expired_with_a_file(h, "Gil")
    async with h.widget(session=session) as widget:
        await widget.send({"type": "message", "client_id": "again", "text": "", "attachments": [sent.name]})
        again = await widget.expect("ack")
        await h.settled()
    purged = await h.bridge.retention.run_once()
    assert (purged.conversations, purged.files) == (1, 0)
    assert (await rows_of(h, gil))["conversation"] == [] and sent.exists()
    opened = await download(h, session, {"message_id": again["id"], "index": 0})
    assert opened.status == 200 and opened.body == PNG


async def test_a_visitor_who_keeps_coming_back_without_writing_stays(bridge: Harness, clock: FakeClock) -> None:
    """A contact with no conversation goes once its identities are old, but a widget session's hello renews it."""
    h = bridge
    assert h.bridge.retention is not None
    async with h.widget(name="Eve") as widget:  # says hello, never writes: a contact and an identity, no conversation
        session = widget.welcome["session"]
    long_ago = clock.now - timedelta(days=DAYS + 10)

    async def created_long_ago(conn: AsyncConnection) -> None:
        await conn.execute(sa.update(CONTACT).values(created_at=long_ago))
        await conn.execute(sa.update(IDENTITY).values(created_at=long_ago))

    await h.bridge.store.writer.run(created_long_ago)
    assert (await h.bridge.retention.run_once()).contacts == 0  # her last hello was just now
    async with h.widget(session=session) as widget:
        assert widget.welcome["session"] == session  # still her session

    async def last_seen_long_ago(conn: AsyncConnection) -> None:
        await conn.execute(sa.update(IDENTITY).values(last_seen_at=long_ago))

    await h.bridge.store.writer.run(last_seen_long_ago)
    assert (await h.bridge.retention.run_once()).contacts == 1
    assert await count(h, CONTACT) == 0 and await count(h, IDENTITY) == 0


async def test_the_bridge_runs_retention_by_itself(bridge: Harness, clock: FakeClock) -> None:
    """``serve`` enters the retention task in its lifecycle; its loop runs every ``every`` seconds."""
    h = bridge
    ann, _, _ = await conversation(h, "Ann", close=True)
    await backdate(h, ann, DAYS + 1)
    retention = Retention(h.bridge.store, days=DAYS, clock=clock, every=0.01, first_after=0)
    async with retention:
        for _ in range(500):
            if retention.runs >= 2:
                break
            await asyncio.sleep(0.01)
    assert retention.runs >= 2
    assert (await rows_of(h, ann))["conversation"] == []


async def test_without_the_setting_nothing_is_deleted(db_url: str, tmp_path: Path) -> None:
    async with running_slack() as (slack, slack_server), running_bridge(db_url, tmp_path, slack, slack_server) as h:
        assert h.bridge.settings.retention_days is None and h.bridge.retention is None


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "1.5", "²", "36501"])
def test_a_bad_retention_setting_is_a_config_error_naming_it(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load({**SLACK_ENV, "SWITCHBOARD_RETENTION_DAYS": raw})
    assert caught.value.problems == [
        f"SWITCHBOARD_RETENTION_DAYS must be a whole number of days (1-36500), got '{raw}'"
    ]


def test_retention_days_from_the_environment_or_toml(tmp_path: Path) -> None:
    assert Settings.load(SLACK_ENV).retention_days is None
    assert Settings.load({**SLACK_ENV, "SWITCHBOARD_RETENTION_DAYS": "30"}).retention_days == 30
    config = tmp_path / "switchboard.toml"
    config.write_text("switchboard_retention_days = 90\n", encoding="utf-8")  # keys: the variables, lower case
    assert Settings.load(SLACK_ENV, config).retention_days == 90

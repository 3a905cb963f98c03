"""Telegram delivery rules end to end (real PTB against the emulator): media, dedupe, order, 429, blocked, secret."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from bridge.config import ConfigError, Settings
from bridge.engine import CONVERSATION, DELIVERY, IDENTITY, MESSAGE
from bridge.sandbox.telegram import TelegramEmulator
from tests.support.harness import TELEGRAM_TOKEN, Harness, running_telegram_bridge

CHAT = 81234
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (4).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(25)
BLOCKED_NOTE = "The customer blocked the bot on Telegram; replies cannot be delivered."


def _emulator(h: Harness) -> TelegramEmulator:
    assert h.telegram is not None
    return h.telegram


async def _root(h: Harness, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) >= count, timeout=timeout)
    return h.slack.channel_messages()


async def _rows(h: Harness, statement: sa.Select[Any]) -> list[Any]:
    return list(await h.bridge.store.fetch_all(statement))


async def test_text_photo_voice_and_sticker_reach_the_thread(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    telegram.user_sends(CHAT, "My order is broken", first_name="Siti")
    telegram.user_sends(CHAT, photo=PNG, caption="see the box", first_name="Siti")
    telegram.user_sends(CHAT, voice=b"OggS-voice", first_name="Siti")
    telegram.user_sends(CHAT, sticker="😢", first_name="Siti")
    location = {k: v for k, v in telegram.message(CHAT, 1).items() if k != "text"}
    telegram.inject_update({"message": {**location, "message_id": 99, "location": {"latitude": 1, "longitude": 2}}})
    [root] = await _root(h)
    thread = lambda: slack.thread(root["ts"])  # noqa: E731
    await slack.wait_for(lambda: sum(bool(m.get("files")) for m in thread()) == 2 and len(thread()) >= 7)
    texts = [m["text"] for m in thread() if not m.get("files")]
    assert texts[0] == "My order is broken"
    assert texts[1].startswith("see the box")
    assert "[sticker 😢]" in texts and any("location" in t for t in texts)
    photo, voice = (m["files"][0] for m in thread() if m.get("files"))
    assert slack.file_bytes[photo["id"]] == PNG
    assert slack.file_bytes[voice["id"]] == b"OggS-voice"
    upload = slack.calls_to("files.completeUploadExternal")[0].params
    assert upload["thread_ts"] == root["ts"] and upload["channel_id"] == "C0SUPPORT"


async def test_a_file_over_20_mb_is_labelled_in_the_thread(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    telegram.user_sends(CHAT, document=("video.mkv", bytes(20 * 1024 * 1024 + 1), "video/x-matroska"))
    [root] = await _root(h)
    await slack.wait_for(lambda: any("too large" in m["text"] for m in slack.thread(root["ts"])))
    label = next(m["text"] for m in slack.thread(root["ts"]) if "too large" in m["text"])
    assert "file too large for Telegram bots to download (20.0 MB)" in label
    assert not slack.calls_to("files.completeUploadExternal")


async def test_an_edit_updates_the_copy_in_the_thread(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    sent = telegram.user_sends(CHAT, "Order #1234 is late")
    [root] = await _root(h)
    await slack.wait_for(lambda: len(slack.thread(root["ts"])) == 1)
    copy_ts = slack.thread(root["ts"])[0]["ts"]
    telegram.user_edits(CHAT, sent["message"]["message_id"], "Order #1235 is late")
    await slack.wait_for(lambda: slack.thread(root["ts"])[0]["text"] == "Order #1235 is late")
    [update] = slack.calls_to("chat.update")
    assert update.params["ts"] == copy_ts


async def test_five_copies_of_one_update_are_one_message_and_one_post(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    update = telegram.user_sends(CHAT, "only once")
    telegram.send_update_copies(update, 4)
    [root] = await _root(h)
    await telegram.wait_for(lambda: not telegram.pending_updates)
    telegram.user_sends(CHAT, "after")  # a later message proves the copies were all handled before it
    await slack.wait_for(lambda: len(slack.thread(root["ts"])) == 2)
    assert [m["text"] for m in slack.thread(root["ts"])] == ["only once", "after"]
    assert len(await _rows(h, sa.select(MESSAGE.c.id))) == 2


async def test_1000_updates_from_10_chats_keep_per_chat_order(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    chats = [700_000 + i for i in range(10)]
    order = [chat for chat in chats for _ in range(100)]
    random.Random(8).shuffle(order)  # interleaved across chats; within a chat Telegram keeps update_id order
    update_ids: dict[str, int] = {}
    counters: dict[int, int] = defaultdict(int)
    for chat in order:
        text = f"{chat}/{counters[chat]:03d}"
        counters[chat] += 1
        update_ids[text] = telegram.user_sends(chat, text, first_name=f"C{chat}")["update_id"]
    # Generous limits: this test is about order, and 1,000 Slack posts take a while on a slow or busy machine.
    roots = await _root(h, 10, timeout=30)
    await slack.wait_for(lambda: sum(len(slack.thread(r["ts"])) for r in roots) == 1000, timeout=90)

    stored: dict[str, list[str]] = defaultdict(list)
    query = sa.select(IDENTITY.c.external_id, MESSAGE.c.text).join(
        CONVERSATION, CONVERSATION.c.id == MESSAGE.c.conversation_id
    )
    for row in await _rows(h, query.join(IDENTITY, IDENTITY.c.id == CONVERSATION.c.identity_id).order_by(MESSAGE.c.id)):
        stored[row.external_id].append(row.text)
    for chat in chats:
        ids = [update_ids[text] for text in stored[str(chat)]]
        assert len(ids) == 100 and ids == sorted(ids)
    for root in roots:
        ids = [update_ids[m["text"]] for m in slack.thread(root["ts"])]
        assert len(ids) == 100 and ids == sorted(ids)
    assert len(set(m["text"].split("/")[0] for r in roots for m in slack.thread(r["ts"]))) == 10


async def test_a_429_for_one_chat_holds_only_that_chat(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    slow, fast = 111, 222
    telegram.user_sends(slow, "from slow", first_name="Slow")
    telegram.user_sends(fast, "from fast", first_name="Fast")
    roots = {("Slow" in r["text"]): r["ts"] for r in await _root(h, 2)}
    telegram.fail_next("sendMessage", chat_id=slow, status=429, retry_after=2)
    started = time.time()
    await slack.agent_says("reply slow", thread_ts=roots[True])
    await slack.agent_says("reply fast", thread_ts=roots[False])
    await telegram.wait_for(lambda: telegram.sent(fast))
    assert telegram.sent(fast)[0]["at"] - started < 1.5  # not held behind the other chat's flood wait
    await telegram.wait_for(lambda: telegram.sent(slow), timeout=8)
    assert telegram.sent(slow)[0]["at"] - started >= 2.0  # waited retry_after, then delivered: nothing lost
    assert [name for name, params in telegram.requests if name == "sendMessage" and params["chat_id"] == str(slow)]


async def test_a_customer_who_blocks_the_bot_is_marked_without_a_retry_storm(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram, slack = _emulator(h), h.slack
    telegram.user_sends(CHAT, "hello", first_name="Siti")
    [root] = await _root(h)
    await slack.wait_for(lambda: len(slack.thread(root["ts"])) == 1)
    telegram.fail_next("sendMessage", chat_id=CHAT, status=403)  # blocked before Telegram tells us so
    for n in range(3):
        await slack.agent_says(f"reply {n}", thread_ts=root["ts"])
    await slack.wait_for(lambda: any(m["text"] == BLOCKED_NOTE for m in slack.thread(root["ts"])))
    dead = DELIVERY.c.target_channel == "telegram"
    await _wait_rows(h, sa.select(DELIVERY.c.id).where(dead, DELIVERY.c.status == "dead"), 3)
    telegram.block(CHAT)  # the my_chat_member update arrives later: still one note
    await telegram.wait_for(lambda: not telegram.pending_updates)
    await slack.agent_says("reply 3", thread_ts=root["ts"])
    await _wait_rows(h, sa.select(DELIVERY.c.id).where(dead, DELIVERY.c.status == "dead"), 4)

    calls = [p for name, p in telegram.requests if name == "sendMessage" and p["chat_id"] == str(CHAT)]
    assert len(calls) == 1  # the one that found out; the rest were not attempted
    errors = {row.last_error for row in await _rows(h, sa.select(DELIVERY.c.last_error).where(dead))}
    assert errors == {"customer blocked the bot"}
    assert [m["text"] for m in slack.thread(root["ts"])].count(BLOCKED_NOTE) == 1
    [flag] = await _rows(h, sa.select(CONVERSATION.c.customer_blocked))
    assert flag.customer_blocked is True

    telegram.user_sends(CHAT, "sorry, back again")  # unblocks the bot: my_chat_member -> member
    await slack.wait_for(lambda: any("unblocked" in m["text"] for m in slack.thread(root["ts"])))
    await slack.agent_says("welcome back", thread_ts=root["ts"])
    await telegram.wait_for(lambda: any("welcome back" in (s["text"] or "") for s in telegram.sent(CHAT)))


async def _wait_rows(h: Harness, statement: sa.Select[Any], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(await _rows(h, statement)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} rows within 10 s"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
async def test_a_webhook_call_without_the_exact_secret_is_refused(
    secret: str | None, db_url: str, tmp_path: Any
) -> None:
    async with running_telegram_bridge(db_url, tmp_path, "webhook") as h:
        update = {"update_id": 5, "message": {"message_id": 1, "date": 1, "chat": {"id": 9, "type": "private"}}}
        update["message"]["text"] = "forged"
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with aiohttp.ClientSession() as http:
            async with http.post(h.url("/telegram/webhook"), json=update, headers=headers) as resp:
                assert resp.status == 403
        assert await _rows(h, sa.select(MESSAGE.c.id)) == []
        assert await _rows(h, sa.select(IDENTITY.c.id)) == []


def test_webhook_mode_without_a_secret_refuses_to_start() -> None:
    environ = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_SUPPORT_CHANNEL": "C0SUPPORT",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_MODE": "webhook",
    }
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        Settings.load(environ)

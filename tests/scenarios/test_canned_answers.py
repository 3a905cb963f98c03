"""Agents send canned answers from Slack; each customer gets them in their own language (issue 5)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge.engine import CONVERSATION, MESSAGE
from bridge.sandbox.telegram import TelegramEmulator
from tests.support.harness import SUPPORT, Harness, Widget, running_bridge, running_slack, running_telegram_bridge

ORDER_TR = "A-42 numaralı siparişinizi hemen kontrol ediyorum."
ORDER_ID = "Saya sedang memeriksa pesanan A-42 untuk Anda."
ORDER_EN = "I'm checking order A-42 for you now."
CHAT = 81234


@pytest.fixture
async def telegram_bridge(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_telegram_bridge(db_url, tmp_path, "webhook") as h:
        yield h


async def _open_thread(h: Harness, widget: Widget, text: str = "Siparişim nerede?") -> str:
    await widget.say(text, "c1")
    await widget.expect("status")
    return str(h.slack.channel_messages()[-1]["ts"])


def _notes(h: Harness, root: str) -> list[str]:
    return [m["text"] for m in h.slack.thread(root) if m.get("bot_id") and "canned answer" in m["text"]]


async def _agent_messages(h: Harness) -> list[str]:
    rows = await h.bridge.store.fetch_all(sa.select(MESSAGE.c.text).where(MESSAGE.c.author_kind == "agent"))
    return [row.text for row in rows]


async def test_slash_canned_lists_the_answers_and_explains_threads(harness: Harness) -> None:
    status, body = await harness.slack.post_command("/canned", "")
    answer = json.loads(body)
    assert status == 200 and answer["response_type"] == "ephemeral"
    assert "`order_status`: I'm checking order {order} for you now." in answer["text"]
    assert "!canned" in answer["text"]

    _, body = await harness.slack.post_command("/canned", "order_status order=A-42")
    assert "!canned order_status" in json.loads(body)["text"]  # no thread_ts with commands: how to do it instead
    _, body = await harness.slack.post_command("/canned", "order_stats")
    assert "Did you mean `order_status`?" in json.loads(body)["text"]
    assert await _agent_messages(harness) == []


async def test_turkish_widget_customer_gets_the_answer_in_turkish(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ayşe", locale="tr") as widget:
        root = await _open_thread(h, widget)
        await h.slack.agent_says("!canned order_status order=A-42", thread_ts=root)
        frame = (await widget.expect("message"))["message"]
        assert frame["text"] == ORDER_TR
        assert frame["author"] == "agent" and frame["author_name"] == "Alex"

        await h.slack.agent_says("!canned greeting_agent", thread_ts=root)
        frame = (await widget.expect("message"))["message"]
        assert frame["text"] == "Merhaba Ayşe, ben Alex. Bugün size yardımcı olacağım."

    await h.slack.wait_for(lambda: len(_notes(h, root)) == 2)
    note = _notes(h, root)[0]
    assert "Alex sent the canned answer order_status in Turkish" in note
    assert ORDER_TR in note and f"English: {ORDER_EN}" in note
    assert "translation" not in note
    assert not [f for f in widget.seen if f["type"] == "message" and "canned" in f["message"]["text"]]
    assert "!canned" not in " ".join(await _agent_messages(h))


async def test_widget_locale_then_browser_languages_choose_the_conversation_language(harness: Harness) -> None:
    async with harness.widget(name="Jonas", locale="de", languages=["de-DE", "lt-LT", "en"]) as widget:
        await _open_thread(harness, widget, "Labas")
    row = await harness.bridge.store.fetch_one(sa.select(CONVERSATION.c.locale))
    assert row is not None and row.locale == "lt"  # no German catalog: the next browser language wins


async def test_turkish_widget_and_indonesian_telegram_customers_get_the_same_answer(telegram_bridge: Harness) -> None:
    h = telegram_bridge
    assert h.telegram is not None
    telegram: TelegramEmulator = h.telegram
    async with h.widget(name="Ayşe", locale="tr") as widget:
        widget_root = await _open_thread(h, widget)
        telegram.user_sends(CHAT, "Halo, pesanan saya belum sampai", first_name="Siti", language_code="id")
        await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 2)
        telegram_root = str(h.slack.channel_messages()[-1]["ts"])

        await h.slack.agent_says("!canned order_status order=A-42", thread_ts=widget_root)
        await h.slack.agent_says("!canned order_status order=A-42", thread_ts=telegram_root)
        assert (await widget.expect("message"))["message"]["text"] == ORDER_TR
    await telegram.wait_for(lambda: telegram.sent(CHAT))
    [sent] = telegram.sent(CHAT)
    assert sent["text"].endswith(ORDER_ID)
    await h.slack.wait_for(lambda: len(_notes(h, telegram_root)) == 1)
    assert "in Indonesian" in _notes(h, telegram_root)[0] and f"English: {ORDER_EN}" in _notes(h, telegram_root)[0]


async def test_unknown_key_gets_the_agent_close_matches_and_sends_nothing(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ayşe", locale="tr") as widget:
        root = await _open_thread(h, widget)
        await h.slack.agent_says("!canned order_stauts order=A-42", thread_ts=root)
        await h.slack.agent_says("!canned order_status", thread_ts=root)  # {order} has no value
        await h.slack.wait_for(lambda: len(h.slack.ephemerals) == 2)
        unknown, missing = h.slack.ephemerals
        assert unknown["user"] == "U0AGENT1" and unknown["thread_ts"] == root
        assert "order_stauts" in unknown["text"] and "`order_status`" in unknown["text"]
        assert "order=" in missing["text"]
        with pytest.raises(TimeoutError):
            await widget.expect("message", timeout=0.5)
    assert await _agent_messages(h) == []
    assert _notes(h, root) == []


@pytest.fixture
def locales_without_turkish_order_status(tmp_path: Path) -> Path:
    copy = tmp_path / "locales"
    shutil.copytree(Path(__file__).resolve().parents[2] / "locales", copy)
    po = copy / "tr" / "LC_MESSAGES" / "canned.po"
    text = po.read_text(encoding="utf-8")
    po.write_text(re.sub(r'msgstr "\{order\} numaralı[^"]*"', 'msgstr ""', text), encoding="utf-8")
    assert "numaralı" not in po.read_text(encoding="utf-8")
    return copy


async def test_a_missing_translation_is_sent_in_english_and_the_agent_is_told(
    db_url: str, tmp_path: Path, locales_without_turkish_order_status: Path
) -> None:
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, locales_dir=locales_without_turkish_order_status) as h,
        h.widget(name="Ayşe", locale="tr") as widget,
    ):
        root = await _open_thread(h, widget)
        await slack.agent_says("!canned order_status order=A-42", thread_ts=root)
        assert (await widget.expect("message"))["message"]["text"] == ORDER_EN
        await slack.wait_for(lambda: len(_notes(h, root)) == 1)
    assert "No Turkish translation for order_status; sent in English." in _notes(h, root)[0]


def _shortcut_payload(h: Harness, message: dict[str, Any], user: str = "U0AGENT1") -> dict[str, Any]:
    """What Slack posts when ``user`` picks "Send canned answer" in the ⋯ menu of ``message``."""
    return {
        "type": "message_action",
        "callback_id": "send_canned",
        "trigger_id": "1337.42.canned-trigger",
        "action_ts": "1700000000.000001",
        "team": {"id": h.slack.team_id, "domain": "sandbox"},
        "user": {"id": user, "name": "alex"},
        "channel": {"id": SUPPORT, "name": "support"},
        "message": message,
        "message_ts": message["ts"],
        "response_url": h.slack.new_response_url(SUPPORT, user, message["ts"], message.get("thread_ts")),
        "token": "verification-token",
    }


async def test_message_shortcut_opens_a_modal_whose_submission_sends_the_answer(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ayşe", locale="tr") as widget:
        root = await _open_thread(h, widget)
        customer_message = h.slack.thread(root)[0]
        status, _ = await h.slack.post_interaction(_shortcut_payload(h, customer_message))
        assert status == 200
        [view] = [v for v in h.slack.views.values() if v.get("callback_id") == "send_canned"]
        assert json.loads(view["private_metadata"]) == {"thread_ts": root}
        assert "Turkish" in json.dumps(view["blocks"])

        status, body = await h.slack.submit_view(view["id"], {"key": {"key": "order_status"}, "params": {}})
        assert status == 200 and json.loads(body)["response_action"] == "errors"  # {order} is needed
        status, _ = await h.slack.submit_view(
            view["id"], {"key": {"key": "order_status"}, "params": {"params": "order=A-42"}}
        )
        assert status == 200 and h.slack.views[view["id"]].get("_closed")
        assert (await widget.expect("message"))["message"]["text"] == ORDER_TR
    await h.slack.wait_for(lambda: len(_notes(h, root)) == 1)


async def test_someone_outside_the_support_channel_cannot_send_canned_answers(harness: Harness) -> None:
    h = harness
    h.slack.add_user("U0OUTSIDE", "olly")
    async with h.widget(name="Ayşe", locale="tr") as widget:
        root = await _open_thread(h, widget)
        customer_message = h.slack.thread(root)[0]
        status, _ = await h.slack.post_interaction(_shortcut_payload(h, customer_message, user="U0OUTSIDE"))
        assert status == 200
        assert not [v for v in h.slack.views.values() if v.get("callback_id") == "send_canned"]  # no modal
        assert h.slack.responses[-1]["text"] == f"Only members of <#{SUPPORT}> can send canned answers to customers."

        # A modal opened by an agent and submitted by someone else (a forged payload) sends nothing either.
        await h.slack.post_interaction(_shortcut_payload(h, customer_message))
        [view] = [v for v in h.slack.views.values() if v.get("callback_id") == "send_canned"]
        values = {"key": {"key": "order_status"}, "params": {"params": "order=A-42"}}
        status, body = await h.slack.submit_view(view["id"], values, user="U0OUTSIDE")
        assert status == 200 and json.loads(body)["errors"]["key"].startswith("Only members of")
        with pytest.raises(TimeoutError):  # nothing reaches the customer
            await widget.expect("message", timeout=0.5)

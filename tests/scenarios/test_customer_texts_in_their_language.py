"""The greeting, the language choice and the errors a customer reads arrive in their language (issue 5)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from bridge.engine import CONTACT, CONVERSATION, MESSAGE
from bridge.sandbox.telegram import TelegramEmulator
from channels.web import channel as web_channel
from tests.support.harness import Harness, Widget

pytestmark = pytest.mark.greeting

GREETING_TR = "Merhaba Ayşe! Bize ulaştığınız için teşekkürler. Bir temsilcimiz birazdan sizinle ilgilenecek."
CHAT = 81234


async def _greetings(h: Harness) -> list[str]:
    rows = await h.bridge.store.fetch_all(sa.select(MESSAGE.c.text).where(MESSAGE.c.source_id.like("greeting:%")))
    return [row.text for row in rows]


async def _frames_until(widget: Widget, kinds: set[str]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while not kinds <= {f["type"] for f in frames}:
        frames.append(await widget.expect_any())
    return frames


async def test_turkish_widget_customer_is_greeted_in_turkish_once(harness: Harness) -> None:
    h = harness
    async with h.widget(name="Ayşe Yılmaz", locale="tr") as widget:
        await widget.send({"type": "message", "client_id": "c1", "text": "Siparişim nerede?"})
        frames = await _frames_until(widget, {"ack", "message", "status"})  # the greeting may come first
        [frame] = [f["message"] for f in frames if f["type"] == "message"]
        assert frame["text"] == GREETING_TR and frame["author"] == "system"
        await widget.say("Hâlâ bekliyorum", "c2")
        await widget.expect("status")
        with pytest.raises(TimeoutError):
            await widget.expect("message", timeout=0.5)
    assert await _greetings(h) == [GREETING_TR]
    root = str(h.slack.channel_messages()[-1]["ts"])
    assert all("Merhaba" not in m["text"] for m in h.slack.thread(root))  # the customer only


async def test_widget_errors_are_in_the_sessions_language(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_channel, "MESSAGES_PER_MINUTE", 1)
    async with harness.widget(name="Ayşe", locale="tr") as widget:
        await widget.say("bir", "c1")
        await widget.send({"type": "message", "client_id": "c2", "text": "iki"})
        error = await widget.expect("error")
        assert error["code"] == "rate_limited"
        assert error["reason"] == "Çok hızlı mesaj gönderiyorsunuz. Lütfen biraz bekleyin."
        await widget.send({"type": "message", "client_id": "c3", "text": "x" * 10_001})
        error = await widget.expect("error")
        assert error["code"] == "too_long" and error["reason"] == "Bu mesaj çok uzun. Sınır 10.000 karakterdir."


async def test_indonesian_telegram_start_is_greeted_without_a_slack_message(telegram_harness: Harness) -> None:
    h = telegram_harness
    assert h.telegram is not None
    telegram: TelegramEmulator = h.telegram
    telegram.user_sends(CHAT, "/start", first_name="Siti", language_code="id")
    await telegram.wait_for(lambda: telegram.sent(CHAT))
    [greeting] = telegram.sent(CHAT)
    assert greeting["text"] == "Halo Siti! Terima kasih telah menghubungi kami. Agen kami akan segera membantu Anda."
    telegram.user_sends(CHAT, "/start", first_name="Siti", language_code="id")  # once per conversation
    telegram.user_sends(CHAT, "Pesanan saya belum sampai", first_name="Siti", language_code="id")
    await h.slack.wait_for(lambda: h.slack.channel_messages())
    root = str(h.slack.channel_messages()[-1]["ts"])
    texts = [m["text"] for m in [*h.slack.channel_messages(), *h.slack.thread(root)]]
    assert not any("/start" in text for text in texts)
    assert len(telegram.sent(CHAT)) == 1
    assert len(await _greetings(h)) == 1


async def test_telegram_language_choice_beats_language_code(telegram_harness: Harness) -> None:
    h = telegram_harness
    assert h.telegram is not None
    telegram: TelegramEmulator = h.telegram
    telegram.user_sends(CHAT, "Halo", first_name="Siti", language_code="id")
    await h.slack.wait_for(lambda: h.slack.channel_messages())
    root = str(h.slack.channel_messages()[-1]["ts"])
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) == 1)  # the greeting, in Indonesian

    telegram.user_sends(CHAT, "/language", first_name="Siti", language_code="id")
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) == 2)
    keyboard = telegram.sent(CHAT)[-1]
    assert keyboard["text"] == "Pilih bahasa Anda:"
    buttons = [b for row in keyboard["reply_markup"]["inline_keyboard"] for b in row]
    assert {"text": "Español", "callback_data": "lang:es"} in buttons
    assert {"text": "Türkçe", "callback_data": "lang:tr"} in buttons

    telegram.user_presses(CHAT, keyboard["message_id"], "lang:es")
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) == 3)
    assert telegram.sent(CHAT)[-1]["text"] == "A partir de ahora te escribiremos en Español."
    assert telegram.answered_callbacks and telegram.answered_callbacks[0]["text"].startswith("A partir de ahora")
    row = await h.bridge.store.fetch_one(sa.select(CONVERSATION.c.locale))
    assert row is not None and row.locale == "es"

    telegram.user_sends(CHAT, "Hola de nuevo", first_name="Siti", language_code="id")  # language_code loses now
    await h.slack.wait_for(lambda: len(h.slack.thread(root)) >= 2)
    contact = await h.bridge.store.fetch_one(sa.select(CONTACT.c.locale))
    assert contact is not None and contact.locale == "es"
    await h.slack.agent_says("!canned order_status order=A-42", thread_ts=root)
    await telegram.wait_for(lambda: len(telegram.sent(CHAT)) == 4)
    assert telegram.sent(CHAT)[-1]["text"].endswith("Ahora mismo estoy revisando el pedido A-42.")

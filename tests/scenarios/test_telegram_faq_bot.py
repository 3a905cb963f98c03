"""The FAQ bot on Telegram: its answer has an inline keyboard; "Talk to a person" hands the chat to the agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.faq import ASKED_NOTE
from tests.scenarios.test_faq_bot import faq_messages, texts_in, until_in_thread
from tests.scenarios.test_telegram_customer_rates_with_buttons import buttons, emulator
from tests.support.harness import Harness, running_telegram_bridge

CHAT = 81600


@pytest.fixture(params=["webhook", "polling"])
async def telegram_faq(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_telegram_bridge(db_url, tmp_path, request.param, faq=True) as h:
        yield h


async def test_a_press_of_talk_to_a_person_hands_the_chat_to_the_agents(telegram_faq: Harness) -> None:
    h = telegram_faq
    telegram = emulator(h)
    catalogs = h.bridge.catalogs

    telegram.user_sends(CHAT, "Quiero un reembolso", first_name="Lucía", language_code="es")

    await telegram.wait_for(lambda: any(m["reply_markup"] for m in telegram.sent(CHAT)))
    [answer] = [m for m in telegram.sent(CHAT) if m["reply_markup"]]
    assert answer["text"] == catalogs.canned("es", "refund_policy").text
    labels = dict(buttons(answer))
    assert list(labels) == ["Eso responde a mi pregunta", "Hablar con una persona"]
    await until_in_thread(h, "🤖 FAQ bot answered with `refund_policy` (Spanish)")

    pressed = telegram.user_presses(CHAT, answer["message_id"], labels["Hablar con una persona"])

    await until_in_thread(h, ASKED_NOTE)
    assert [a["id"] for a in telegram.answered_callbacks] == [pressed["callback_query"]["id"]]
    coming = "Alguien de nuestro equipo te atenderá en breve."
    await telegram.wait_for(lambda: any(m["text"] == coming for m in telegram.sent(CHAT)))
    await telegram.wait_for(lambda: "reply_markup" not in telegram.message(CHAT, answer["message_id"]))
    assert "Hablar con una persona" in texts_in(h)

    telegram.user_sends(CHAT, "¿Y cuánto tarda el envío?", first_name="Lucía", language_code="es")

    await telegram.wait_for(lambda: not telegram.pending_updates)  # taken: the bot would have answered by now
    assert await faq_messages(h) == ["refund_policy"]  # handed off: no shipping_times answer
    await until_in_thread(h, "¿Y cuánto tarda el envío?")
    assert sum("FAQ bot answered" in t for t in texts_in(h)) == 1

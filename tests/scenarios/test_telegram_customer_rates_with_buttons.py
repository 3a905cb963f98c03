"""On Telegram the close-of-conversation survey is an inline keyboard: a press rates, once, and the buttons go."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bridge import texts
from bridge.engine import CONVERSATION
from bridge.sandbox.telegram import TelegramEmulator
from tests.scenarios.test_agent_works_a_conversation_from_its_card import ALEX, card_fields, thread_texts, until_note
from tests.support.harness import Harness

CHAT, OTHER_CHAT = 81500, 81501


def emulator(h: Harness) -> TelegramEmulator:
    assert h.telegram is not None
    return h.telegram


async def closed_with_survey(h: Harness) -> dict[str, Any]:
    """A Spanish-speaking customer's conversation, closed by Alex; returns the survey as the emulator recorded it."""
    telegram, slack = emulator(h), h.slack
    telegram.user_sends(CHAT, "Mi pedido no llegó", first_name="Lucía", language_code="es")
    await slack.wait_for(
        lambda: len(slack.channel_messages()) == 1 and len(slack.thread(slack.channel_messages()[0]["ts"])) == 1
    )
    await slack.click_button(slack.channel_messages()[0]["ts"], "desk_close", user=ALEX)
    await telegram.wait_for(lambda: any(m["reply_markup"] for m in telegram.sent(CHAT)))
    [survey] = [m for m in telegram.sent(CHAT) if m["reply_markup"]]
    return survey


def buttons(survey: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in survey["reply_markup"]["inline_keyboard"] for b in row]


async def test_a_press_rates_answers_the_query_and_removes_the_keyboard(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram = emulator(h)
    catalogs = h.bridge.catalogs
    survey = await closed_with_survey(h)
    assert survey["text"] == catalogs.gettext("es", texts.SURVEY_QUESTION)
    [(label, data)] = [b for b in buttons(survey) if b[0] == "4"]
    assert [b[0] for b in buttons(survey)] == ["1", "2", "3", "4", "5"]
    assert all(len(d.encode()) <= 64 for _, d in buttons(survey))

    pressed = telegram.user_presses(CHAT, survey["message_id"], data)

    await until_note(h, "The customer rated this conversation 4/5.")
    assert card_fields(h)["Rating"] == "★★★★☆ 4/5"
    assert [a["id"] for a in telegram.answered_callbacks] == [pressed["callback_query"]["id"]]
    await telegram.wait_for(lambda: "reply_markup" not in telegram.message(CHAT, survey["message_id"]))
    assert [m["method"] for m in telegram.sent(CHAT)].count("editMessageReplyMarkup") == 1
    invitation = catalogs.gettext("es", texts.SURVEY_COMMENT)
    await telegram.wait_for(lambda: any(m["text"] == invitation for m in telegram.sent(CHAT)))

    telegram.user_sends(CHAT, "Muy amable, gracias", first_name="Lucía", language_code="es")

    await until_note(h, "The customer added a comment to their rating")
    assert card_fields(h)["Rating"] == "★★★★☆ 4/5 — “Muy amable, gracias”"
    assert card_fields(h)["Status"] == "✅ Resolved"


async def test_a_double_press_rates_once_and_both_queries_are_answered(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram = emulator(h)
    survey = await closed_with_survey(h)
    data = dict(buttons(survey))

    telegram.user_presses(CHAT, survey["message_id"], data["5"])  # both pressed before the bot saw the first
    telegram.user_presses(CHAT, survey["message_id"], data["2"])

    await telegram.wait_for(lambda: len(telegram.answered_callbacks) == 2)
    await until_note(h, "The customer rated this conversation 5/5.")
    assert card_fields(h)["Rating"] == "★★★★★ 5/5"
    rating = await h.bridge.store.fetch_one(sa.select(CONVERSATION.c.csat_score))
    assert rating is not None and rating.csat_score == 5
    assert sum("rated this conversation" in t for t in thread_texts(h)) == 1
    assert "reply_markup" not in telegram.message(CHAT, survey["message_id"])


async def test_a_forged_press_from_another_chat_changes_nothing(telegram_harness: Harness) -> None:
    h = telegram_harness
    telegram = emulator(h)
    survey = await closed_with_survey(h)
    telegram.user_sends(OTHER_CHAT, "/start", first_name="Mallory", language_code="en")
    forged = {
        "id": "forged-1",
        "from": {"id": OTHER_CHAT, "is_bot": False, "first_name": "Mallory"},
        "message": {**telegram.message(CHAT, survey["message_id"]), "chat": {"id": OTHER_CHAT, "type": "private"}},
        "chat_instance": "1",
        "data": dict(buttons(survey))["1"],
    }
    telegram.inject_update({"callback_query": forged})
    telegram.user_presses(CHAT, survey["message_id"], dict(buttons(survey))["3"])  # the real customer, after

    await until_note(h, "The customer rated this conversation 3/5.")
    assert card_fields(h)["Rating"] == "★★★☆☆ 3/5"
    assert not any("1/5" in t for t in thread_texts(h))

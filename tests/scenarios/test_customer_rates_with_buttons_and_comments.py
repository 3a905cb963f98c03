"""The close-of-conversation survey in the widget: 1-5 buttons, the rating on the card, an optional comment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge import texts
from bridge.engine import CONVERSATION, MESSAGE
from bridge.model import as_utc
from bridge.survey import COMMENT_WINDOW
from tests.scenarios.test_agent_works_a_conversation_from_its_card import (
    ALEX,
    card,
    card_fields,
    conversation,
    customer_gets,
    thread_texts,
    until_note,
)
from tests.support.harness import Harness, Widget

RATED_4 = "The customer rated this conversation 4/5."
COMMENTED = "The customer added a comment to their rating (it is on the card)."
SURVEY_CHOICES = [{"id": f"csat:{n}", "label": str(n)} for n in range(1, 6)]


async def close_and_get_survey(harness: Harness, widget: Widget) -> dict[str, Any]:
    """Alex closes the conversation from its card; returns the survey message the widget received."""
    await harness.slack.click_button(card(harness)["ts"], "desk_close", user=ALEX)
    question = harness.bridge.catalogs.gettext("en", texts.SURVEY_QUESTION)
    while not (
        survey := [f["message"] for f in widget.seen if f["type"] == "message" and f["message"]["text"] == question]
    ):
        await widget.expect("message")
    await until_note(harness, "Alex closed this conversation.")
    return survey[-1]


async def choose(widget: Widget, message_id: object, choice: object) -> dict[str, Any]:
    """Press a choice; the server's answer: ``chosen`` or an ``error`` frame."""
    await widget.send({"type": "choose", "message_id": message_id, "choice": choice})
    while True:
        frame = await widget.expect_any()
        if frame["type"] in ("chosen", "error"):
            return frame


async def count(harness: Harness, table: sa.Table) -> int:
    row = await harness.bridge.store.fetch_one(sa.select(sa.func.count()).select_from(table))
    assert row is not None
    return int(row[0])


async def test_rating_by_button_then_a_comment_both_shown_on_the_card(harness: Harness) -> None:
    async with conversation(harness) as widget:
        survey = await close_and_get_survey(harness, widget)
        assert survey["choices"] == SURVEY_CHOICES
        updates_before = len(harness.slack.calls_to("chat.update"))

        chosen = await choose(widget, survey["id"], "csat:4")

        assert chosen["type"] == "chosen" and chosen["message_id"] == survey["id"] and chosen["id"] > survey["id"]
        await customer_gets(widget, "Thanks! Is there anything you would like to add? Just write it here.")
        await until_note(harness, RATED_4)
        assert card_fields(harness)["Rating"] == "★★★★☆ 4/5"
        assert card_fields(harness)["Status"] == "✅ Resolved"
        assert len(harness.slack.calls_to("chat.update")) > updates_before  # the card was updated in place
        assert "4" in thread_texts(harness)  # the answer is in the thread, as a typed one would be

        await widget.say("Quick & friendly, thanks!", "c2")

        await customer_gets(widget, "Thank you for your feedback!")
        await until_note(harness, COMMENTED)
        assert card_fields(harness)["Rating"] == "★★★★☆ 4/5 — “Quick &amp; friendly, thanks!”"
        assert card_fields(harness)["Status"] == "✅ Resolved"  # a comment does not reopen

        await widget.say("Actually, one more question", "c3")
        await until_note(harness, "The customer wrote again: conversation reopened.")
        assert card_fields(harness)["Status"] == "🟢 Open"
        assert card_fields(harness)["Rating"] == "★★★★☆ 4/5 — “Quick &amp; friendly, thanks!”"


async def test_history_replays_the_survey_buttons_and_the_answer(harness: Harness) -> None:
    async with conversation(harness) as widget:
        survey = await close_and_get_survey(harness, widget)
        chosen = await choose(widget, survey["id"], "csat:5")
        session = widget.welcome["session"]

    async with harness.widget(session=session) as again:
        replayed = {m["id"]: m for m in again.welcome["messages"]}
        assert replayed[survey["id"]]["choices"] == SURVEY_CHOICES
        assert replayed[chosen["id"]]["author"] == "customer" and replayed[chosen["id"]]["text"] == "5"
        assert "choices" not in replayed[chosen["id"]]


async def test_refused_presses_get_an_error_frame_and_change_nothing(harness: Harness) -> None:
    async with conversation(harness) as widget, harness.widget(name="Bo", locale="en") as other:
        survey = await close_and_get_survey(harness, widget)
        messages = await count(harness, MESSAGE)

        unknown = await choose(widget, survey["id"] + 1000, "csat:4")
        not_offered = await choose(widget, survey["id"], "csat:9")
        not_a_number = await choose(widget, str(survey["id"]), "csat:4")
        too_large = await choose(widget, 2**40, "csat:4")
        someone_elses = await choose(other, survey["id"], "csat:1")

        for refused in (unknown, not_offered, not_a_number, too_large, someone_elses):
            assert refused["type"] == "error" and refused["code"] == "bad_choice", refused
        assert await count(harness, MESSAGE) == messages
        rating = await harness.bridge.store.fetch_one(sa.select(CONVERSATION.c.csat_score))
        assert rating is not None and rating.csat_score is None
        assert "Rating" not in card_fields(harness)

        chosen = await choose(widget, survey["id"], "csat:2")  # the customer's own press still counts
        assert chosen["type"] == "chosen"


async def test_a_second_press_is_stale(harness: Harness) -> None:
    async with conversation(harness) as widget:
        survey = await close_and_get_survey(harness, widget)
        first = await choose(widget, survey["id"], "csat:5")
        again = await choose(widget, survey["id"], "csat:5")
        changed_mind = await choose(widget, survey["id"], "csat:1")
        await until_note(harness, "The customer rated this conversation 5/5.")

        assert first["type"] == "chosen"
        assert (again["type"], again["code"]) == ("error", "stale_choice")
        assert (changed_mind["type"], changed_mind["code"]) == ("error", "stale_choice")
        assert card_fields(harness)["Rating"] == "★★★★★ 5/5"
        assert sum("rated this conversation" in t for t in thread_texts(harness)) == 1


async def test_a_typed_digit_still_rates_and_a_later_press_is_stale(harness: Harness) -> None:
    async with conversation(harness) as widget:
        survey = await close_and_get_survey(harness, widget)
        await widget.say("3", "c2")
        await until_note(harness, "The customer rated this conversation 3/5.")

        pressed = await choose(widget, survey["id"], "csat:5")

        assert (pressed["type"], pressed["code"]) == ("error", "stale_choice")
        assert card_fields(harness)["Rating"] == "★★★☆☆ 3/5"


async def test_only_the_latest_survey_counts_after_a_reopen_and_close(harness: Harness) -> None:
    async with conversation(harness) as widget:
        old = await close_and_get_survey(harness, widget)
        ts = card(harness)["ts"]
        await harness.slack.click_button(ts, "desk_reopen", user=ALEX)
        await until_note(harness, "Alex reopened this conversation.")
        widget.seen.clear()
        new = await close_and_get_survey(harness, widget)

        stale = await choose(widget, old["id"], "csat:1")
        current = await choose(widget, new["id"], "csat:4")

        assert (stale["type"], stale["code"]) == ("error", "stale_choice")
        assert current["type"] == "chosen"
        await until_note(harness, RATED_4)
        assert card_fields(harness)["Rating"] == "★★★★☆ 4/5"


async def test_after_the_comment_window_a_message_reopens_instead(harness: Harness) -> None:
    async with conversation(harness) as widget:
        survey = await close_and_get_survey(harness, widget)
        await choose(widget, survey["id"], "csat:4")
        await until_note(harness, RATED_4)

        async def rated_long_ago(conn: AsyncConnection) -> None:  # travel past the window, both databases alike
            rated_at = as_utc((await conn.execute(sa.select(CONVERSATION.c.csat_at))).scalar_one())
            earlier = rated_at - COMMENT_WINDOW - timedelta(minutes=1)
            await conn.execute(sa.update(CONVERSATION).values(csat_at=earlier))

        await harness.bridge.store.writer.run(rated_long_ago)
        await widget.say("Where is my refund?", "c2")

        await until_note(harness, "The customer wrote again: conversation reopened.")
        assert card_fields(harness)["Rating"] == "★★★★☆ 4/5"  # no comment
        assert not any(COMMENTED in t for t in thread_texts(harness))


async def test_a_press_right_after_a_typed_message_does_not_overtake_it(harness: Harness) -> None:
    async with conversation(harness) as widget:
        survey = await close_and_get_survey(harness, widget)
        await widget.send({"type": "message", "client_id": "c2", "text": "2"})  # typed: a rating of 2 ...
        pressed = await choose(widget, survey["id"], "csat:5")  # ... then, at once, a press of 5

        assert (pressed["type"], pressed["code"]) == ("error", "stale_choice")  # the typed answer came first
        await until_note(harness, "The customer rated this conversation 2/5.")
        assert card_fields(harness)["Rating"] == "★★☆☆☆ 2/5"

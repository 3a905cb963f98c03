"""Agents claim, tag, prioritise, assign, close and reopen a conversation from its thread card in Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bridge import texts
from tests.support.harness import SUPPORT, Harness, Widget

ALEX, SAM = "U0AGENT1", "U0AGENT2"


@asynccontextmanager
async def conversation(harness: Harness, text: str = "Where is my order?", **hello: Any) -> AsyncIterator[Widget]:
    """A widget customer whose first message has opened a thread (card posted, message in the thread)."""
    async with harness.widget(**{"name": "Ana", "locale": "en", **hello}) as widget:
        await widget.say(text, "c1")
        await widget.expect("status")
        yield widget


def card(harness: Harness) -> dict[str, Any]:
    roots = harness.slack.channel_messages()
    assert len(roots) == 1
    return roots[0]


def card_fields(harness: Harness) -> dict[str, str]:
    """The card's fields as label -> value ("Assignee" -> "<@U0AGENT1>")."""
    fields: dict[str, str] = {}
    for block in card(harness)["blocks"]:
        for field in block.get("fields") or ():
            label, _, value = field["text"].partition("\n")
            fields[label.strip("*")] = value
    return fields


def action_ids(harness: Harness) -> list[str]:
    actions = next(b for b in card(harness)["blocks"] if b["type"] == "actions")
    return [e["action_id"] for e in actions["elements"]]


def thread_texts(harness: Harness) -> list[str]:
    return [m["text"] for m in harness.slack.thread(card(harness)["ts"])]


async def until_note(harness: Harness, text: str) -> None:
    await harness.slack.wait_for(lambda: any(text in t for t in thread_texts(harness)))


async def customer_gets(widget: Widget, text: str) -> None:
    """Wait for a message frame with ``text`` (it may have arrived before the ack of the customer's own message)."""
    while not any(f["type"] == "message" and f["message"]["text"] == text for f in widget.seen):
        await widget.expect("message")


def ephemerals_to(harness: Harness, user: str) -> list[str]:
    return [e["text"] for e in harness.slack.ephemerals if e["user"] == user]


async def test_claim_updates_the_card_in_place_and_notes_it(harness: Harness) -> None:
    async with conversation(harness) as widget:
        ts = card(harness)["ts"]
        assert card_fields(harness)["Assignee"] == "Unassigned"
        assert action_ids(harness) == [
            "desk_claim",
            "desk_close",
            "desk_export",
            "desk_priority",
            "desk_tags",
            "desk_assign",
        ]

        status, _ = await harness.slack.click_button(ts, "desk_claim", user=ALEX)

        assert status == 200
        await until_note(harness, "Alex claimed this conversation.")
        assert card_fields(harness)["Assignee"] == f"<@{ALEX}>"
        assert "desk_claim" not in action_ids(harness)
        assert [c.params["ts"] for c in harness.slack.calls_to("chat.update")] == [ts]
        joined = await widget.expect("message")
        assert joined["message"]["text"] == "Alex joined the conversation."


async def test_priority_tags_and_assign_are_shown_on_the_card(harness: Harness) -> None:
    async with conversation(harness):
        ts = card(harness)["ts"]
        await harness.slack.click_button(ts, "desk_priority", user=ALEX, value="high")
        await harness.slack.click_button(ts, "desk_tags", user=ALEX, value="payment,account")
        await harness.slack.click_button(ts, "desk_assign", user=ALEX, value=SAM)

        await until_note(harness, "Alex assigned this conversation to Sam.")
        fields = card_fields(harness)
        assert (fields["Priority"], fields["Tags"], fields["Assignee"]) == ("🟠 High", "payment, account", f"<@{SAM}>")
        assert "Alex set the priority to high." in thread_texts(harness)
        assert "Alex set the tags to payment, account." in thread_texts(harness)
        assert any(t.endswith(f"<@{SAM}>") for t in thread_texts(harness))


async def test_stale_claim_tells_the_second_agent_who_has_it(harness: Harness) -> None:
    """Sam's client still shows the Claim button Alex already used: Sam is told, nothing changes."""
    async with conversation(harness):
        ts = card(harness)["ts"]
        sams_click = harness.slack.block_actions_payload(ts, "desk_claim", user=SAM)  # rendered before Alex's claim
        await harness.slack.click_button(ts, "desk_claim", user=ALEX)
        await until_note(harness, "Alex claimed")

        status, _ = await harness.slack.post_interaction(sams_click)

        assert status == 200
        assert ephemerals_to(harness, SAM) == [f"<@{ALEX}> already has this conversation."]
        assert card_fields(harness)["Assignee"] == f"<@{ALEX}>"
        assert not any("Sam claimed" in t for t in thread_texts(harness))


async def test_close_on_a_card_already_closed_is_explained(harness: Harness) -> None:
    async with conversation(harness):
        ts = card(harness)["ts"]
        sams_close = harness.slack.block_actions_payload(ts, "desk_close", user=SAM)
        await harness.slack.click_button(ts, "desk_close", user=ALEX)
        await until_note(harness, "Alex closed")

        await harness.slack.post_interaction(sams_close)

        assert ephemerals_to(harness, SAM) == ["This conversation is already closed."]
        assert card_fields(harness)["Status"] == "✅ Resolved"


async def test_only_members_of_the_support_channel_may_act(harness: Harness) -> None:
    harness.slack.members[SUPPORT].discard(SAM)
    async with conversation(harness):
        ts = card(harness)["ts"]

        await harness.slack.click_button(ts, "desk_claim", user=SAM)

        assert ephemerals_to(harness, SAM) == [f"Only members of <#{SUPPORT}> can act on conversations."]
        assert card_fields(harness)["Assignee"] == "Unassigned"
        assert harness.slack.calls_to("chat.update") == []


async def test_close_survey_rating_on_card_then_customer_reopens(harness: Harness) -> None:
    async with conversation(harness) as widget:
        ts = card(harness)["ts"]
        await harness.slack.click_button(ts, "desk_close", user=ALEX)

        closed = await widget.expect("message")
        survey = await widget.expect("message")
        assert closed["message"]["text"] == "This conversation has been closed. Write again any time to reopen it."
        assert survey["message"]["text"].startswith("How would you rate this conversation?")
        await until_note(harness, "Alex closed this conversation.")
        assert card_fields(harness)["Status"] == "✅ Resolved"
        assert action_ids(harness)[0] == "desk_reopen"

        await widget.say("5", "c2")
        await customer_gets(widget, "Thanks! Is there anything you would like to add? Just write it here.")
        await until_note(harness, "The customer rated this conversation 5/5.")
        assert card_fields(harness)["Rating"] == "★★★★★ 5/5"
        assert card_fields(harness)["Status"] == "✅ Resolved"

        await widget.say("All good", "c3")  # the next message is the rating's optional comment
        await customer_gets(widget, "Thank you for your feedback!")
        await until_note(harness, "The customer added a comment to their rating")
        assert card_fields(harness)["Rating"] == "★★★★★ 5/5 — “All good”"

        await widget.say("One more question, please", "c4")
        await until_note(harness, "The customer wrote again: conversation reopened.")
        assert card_fields(harness)["Status"] == "🟢 Open"
        await until_note(harness, "One more question, please")
        assert len(harness.slack.channel_messages()) == 1  # the same thread, not a new conversation


async def test_survey_and_closing_text_in_the_customers_language(harness: Harness) -> None:
    catalogs = harness.bridge.catalogs
    async with conversation(harness, text="Hola", locale="es") as widget:
        await harness.slack.click_button(card(harness)["ts"], "desk_close", user=ALEX)
        closed = await widget.expect("message")
        survey = await widget.expect("message")
        assert closed["message"]["text"] == catalogs.gettext("es", texts.CONVERSATION_CLOSED)
        assert survey["message"]["text"] == catalogs.gettext("es", texts.SURVEY_QUESTION)
        assert survey["message"]["text"] != texts.SURVEY_QUESTION  # translated, not the English source


async def test_agent_reopens_from_the_card(harness: Harness) -> None:
    async with conversation(harness):
        ts = card(harness)["ts"]
        await harness.slack.click_button(ts, "desk_close", user=ALEX)
        await until_note(harness, "Alex closed")
        await harness.slack.click_button(ts, "desk_reopen", user=SAM)
        await until_note(harness, "Sam reopened this conversation.")
        assert card_fields(harness)["Status"] == "🟢 Open"

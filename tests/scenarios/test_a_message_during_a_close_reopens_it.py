"""A customer who writes while an agent's close is being committed reopens the conversation: their message never
joins the resolved conversation unseen.

Without the fix the customer's cached route was forgotten only after the close committed, so a message arriving
meanwhile took the hot path into the conversation being resolved: the customer got their ack, the text reached the
thread, and the conversation stayed resolved, with no reopen note and nobody offered it. The race is made to
happen by holding the writer (``tests.support.races``) while the close waits for it and the message arrives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from bridge.desk import Desk
from bridge.engine import CONVERSATION, MESSAGE
from bridge.faq import RESOLVED_NOTE
from bridge.model import ConversationStatus
from tests.scenarios.test_agent_works_a_conversation_from_its_card import (
    ALEX,
    card,
    card_fields,
    conversation,
    thread_texts,
    until_note,
)
from tests.scenarios.test_faq_bot import spanish_customer_asks_for_a_refund, until_in_thread
from tests.support.harness import Harness, running_bridge, running_slack, running_telegram_bridge
from tests.support.races import until_suspended_in, writer_held

REOPENED = "The customer wrote again: conversation reopened."
CHAT = 81700


async def test_a_message_sent_while_the_close_commits_reopens_the_conversation(harness: Harness) -> None:
    store = harness.bridge.store
    async with conversation(harness) as widget:  # the first message cached the customer's route (the hot path)
        async with writer_held(store):
            # Slack gets its answer once the close is committed (bolt's process_before_response): click in a task
            click = asyncio.ensure_future(harness.slack.click_button(card(harness)["ts"], "desk_close", user=ALEX))
            await until_suspended_in(Desk.close, waiting_for=store.writer)  # the close is queued, not committed
            await widget.send({"type": "message", "client_id": "c2", "text": "Wait, one more thing!"})
            await widget.send({"type": "ping"})
            await widget.expect("pong")  # frames are handled in order: the message is with the desk now

        ack = await widget.expect("ack")  # the customer's message is stored ...
        assert (await click)[0] == 200
        assert ack["client_id"] == "c2" and ack["id"] is not None
        row = await store.fetch_one(
            sa.select(CONVERSATION.c.status)
            .join(MESSAGE, MESSAGE.c.conversation_id == CONVERSATION.c.id)
            .where(MESSAGE.c.id == ack["id"])
        )
        assert row is not None and row.status == ConversationStatus.OPEN  # ... in a conversation open again
        await until_note(harness, "Wait, one more thing!")  # the agents see it, in the thread ...
        await until_note(harness, REOPENED)  # ... told it reopened the conversation
        assert card_fields(harness)["Status"] == "🟢 Open"


async def test_a_telegram_message_sent_while_the_close_commits_reopens_the_conversation(
    db_url: str, tmp_path: Path
) -> None:
    """The same race through ``Desk.receive`` (Telegram's sink has no hot path of its own)."""
    async with running_telegram_bridge(db_url, tmp_path, "webhook") as h:
        telegram, store = h.telegram, h.bridge.store
        assert telegram is not None
        telegram.user_sends(CHAT, "Where is my order?", first_name="Lucía")
        await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1 and len(thread_texts(h)) == 1)
        await telegram.wait_for(lambda: not telegram.pending_updates)  # its desk work is over: the webhook got 200
        async with writer_held(store):
            click = asyncio.ensure_future(h.slack.click_button(card(h)["ts"], "desk_close", user=ALEX))
            await until_suspended_in(Desk.close, waiting_for=store.writer)
            telegram.user_sends(CHAT, "Wait, one more thing!", first_name="Lucía")
            await until_suspended_in(Desk.receive)  # the update is with the desk now

        assert (await click)[0] == 200
        await until_note(h, "Wait, one more thing!")
        await until_note(h, REOPENED)
        assert card_fields(h)["Status"] == "🟢 Open"


async def test_a_message_sent_while_the_faq_bot_resolves_reopens_the_conversation(db_url: str, tmp_path: Path) -> None:
    """ "That answers my question" resolves the conversation too: a message from the customer's other tab while
    that commits reopens it."""
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, faq=True) as h,
        h.widget(name="Lucía", locale="es") as widget,
    ):
        store = h.bridge.store
        answer = await spanish_customer_asks_for_a_refund(h, widget)
        async with h.widget(session=widget.welcome["session"]) as other_tab:  # the same visitor in a second tab
            async with writer_held(store):
                await widget.send({"type": "choose", "message_id": answer["id"], "choice": "faq:answered"})
                await until_suspended_in(Desk.receive, waiting_for=store.writer)  # the resolve is queued
                await other_tab.send({"type": "message", "client_id": "t2", "text": "Una cosa más"})
                await other_tab.send({"type": "ping"})
                await other_tab.expect("pong")

            assert (await other_tab.expect("ack"))["id"] is not None
            await until_in_thread(h, RESOLVED_NOTE)
            await until_in_thread(h, "Una cosa más")
            await until_in_thread(h, REOPENED)
            assert card_fields(h)["Status"] == "🟢 Open"

"""The FAQ bot through the widget: before an agent joins, a message naming an FAQ answer's keywords gets that canned
answer in the customer's language with two buttons; the thread shows what the bot said; /stats counts what the bot
resolved alone (issue 6)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge import texts
from bridge.engine import CONVERSATION, MESSAGE
from bridge.faq import ASKED_NOTE, RESOLVED_NOTE
from tests.scenarios.test_agent_works_a_conversation_from_its_card import ALEX, card_fields
from tests.scenarios.test_customer_rates_with_buttons_and_comments import choose, count
from tests.support.harness import Harness, Widget, running_bridge, running_slack

REFUND_NOTE = "🤖 FAQ bot answered with `refund_policy` (Spanish): Puedes devolver cualquier artículo"
CHOICES_ES = [
    {"id": "faq:answered", "label": "Eso responde a mi pregunta"},
    {"id": "faq:person", "label": "Hablar con una persona"},
]


@pytest.fixture
async def faq_harness(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """A bridge with the FAQ bot on (the shared harness turns it off)."""
    async with (
        running_slack() as (slack, slack_server),
        running_bridge(db_url, tmp_path, slack, slack_server, faq=True) as h,
    ):
        yield h


async def bot_answers(widget: Widget, n: int = 1) -> list[dict[str, Any]]:
    """Wait for ``n`` messages with choices (the bot's answers); they may have come before the ack."""
    while (
        len(found := [f["message"] for f in widget.seen if f["type"] == "message" and f["message"].get("choices")]) < n
    ):
        await widget.expect("message")
    return found


async def gets(widget: Widget, text: str) -> None:
    while not any(f["type"] == "message" and f["message"]["text"] == text for f in widget.seen):
        await widget.expect("message")


def root(h: Harness, index: int = 0) -> str:
    return str(h.slack.channel_messages()[index]["ts"])


def texts_in(h: Harness, index: int = 0) -> list[str]:
    """The texts in the thread of the ``index``-th conversation (none before its card is posted)."""
    if len(h.slack.channel_messages()) <= index:
        return []
    return [m["text"] for m in h.slack.thread(root(h, index))]


async def until_in_thread(h: Harness, text: str, index: int = 0) -> None:
    await h.slack.wait_for(lambda: any(text in t for t in texts_in(h, index)))


async def faq_messages(h: Harness) -> list[str]:
    """The keys of every FAQ answer stored so far."""
    faq = sa.and_(MESSAGE.c.source_id.like("faq:%"), MESSAGE.c.author_kind == "system")
    rows = await h.bridge.store.fetch_all(sa.select(MESSAGE.c.source_id).where(faq))
    return sorted(row.source_id.rsplit(":", 1)[1] for row in rows)


async def spanish_customer_asks_for_a_refund(h: Harness, widget: Widget) -> dict[str, Any]:
    await widget.say("Hola, quiero un reembolso", "c1")
    [answer] = await bot_answers(widget)
    await until_in_thread(h, REFUND_NOTE)
    return answer


async def test_a_spanish_customer_gets_the_answer_in_spanish_and_the_thread_shows_it(faq_harness: Harness) -> None:
    h = faq_harness
    async with h.widget(name="Lucía", locale="es") as widget:
        answer = await spanish_customer_asks_for_a_refund(h, widget)

        assert answer["text"] == h.bridge.catalogs.canned("es", "refund_policy").text
        assert answer["text"].startswith("Puedes devolver cualquier artículo")
        assert answer["choices"] == CHOICES_ES
        thread = texts_in(h)
        assert thread.index("Hola, quiero un reembolso") < next(i for i, t in enumerate(thread) if REFUND_NOTE in t)
        assert card_fields(h)["Status"] == "🟢 Open"

        await widget.say("¡REEMBOLSO, por favor!", "c2")  # the same answer is given once
        await widget.say("Y olvidé mi contraseña", "c3")  # another one is given too

        await until_in_thread(h, "FAQ bot answered with `password_reset` (Spanish)")
        assert await faq_messages(h) == ["password_reset", "refund_policy"]
        assert sum("FAQ bot answered with `refund_policy`" in t for t in texts_in(h)) == 1


async def test_talk_to_a_person_hands_the_conversation_to_the_agents(faq_harness: Harness) -> None:
    h = faq_harness
    async with h.widget(name="Lucía", locale="es") as widget:
        answer = await spanish_customer_asks_for_a_refund(h, widget)

        chosen = await choose(widget, answer["id"], "faq:person")

        assert chosen["type"] == "chosen"
        await gets(widget, "Alguien de nuestro equipo te atenderá en breve.")
        await until_in_thread(h, ASKED_NOTE)
        assert "Hablar con una persona" in texts_in(h)  # the customer's words, as a typed message would be
        assert card_fields(h)["Status"] == "🟢 Open"

        await widget.say("¿Cuánto tarda el envío?", "c2")  # names shipping_times: handed off, no more bot answers
        assert await faq_messages(h) == ["refund_policy"]
        again = await choose(widget, answer["id"], "faq:answered")  # and the answer can no longer resolve it
        assert (again["type"], again["code"]) == ("error", "stale_choice")
        assert card_fields(h)["Status"] == "🟢 Open"


async def test_talk_to_a_person_mentions_the_agent_who_has_the_conversation(faq_harness: Harness) -> None:
    h = faq_harness
    async with h.widget(name="Lucía", locale="es") as widget:
        answer = await spanish_customer_asks_for_a_refund(h, widget)
        await h.slack.click_button(root(h), "desk_claim", user=ALEX)
        await until_in_thread(h, "Alex claimed this conversation.")

        await choose(widget, answer["id"], "faq:person")

        await until_in_thread(h, f"{ASKED_NOTE} <@{ALEX}>")


async def test_with_routing_on_a_person_asked_for_in_the_queue_is_routed(faq_harness: Harness) -> None:
    h = faq_harness
    await h.slack.post_command("/away", "", user=ALEX)  # routing is on, and nobody is free
    async with h.widget(name="Lucía", locale="es") as widget:
        answer = await spanish_customer_asks_for_a_refund(h, widget)  # the bot answers before routing
        await gets(widget, h.bridge.catalogs.gettext("es", texts.QUEUE_POSITION, position=1))

        await choose(widget, answer["id"], "faq:person")

        await until_in_thread(h, ASKED_NOTE)
        await h.slack.wait_for(lambda: sum("number 1 in the queue" in t for t in texts_in(h)) == 2)  # routed again
        await h.slack.post_command("/available", "", user=ALEX)
        await h.slack.wait_for(lambda: card_fields(h)["Assignee"] == f"<@{ALEX}>")


async def test_that_answers_my_question_resolves_it_and_stats_count_it_as_the_bots(faq_harness: Harness) -> None:
    h = faq_harness
    async with h.widget(name="Lucía", locale="es") as lucia:
        answer = await spanish_customer_asks_for_a_refund(h, lucia)
        updates = len(h.slack.calls_to("chat.update"))

        chosen = await choose(lucia, answer["id"], "faq:answered")

        assert chosen["type"] == "chosen"
        await gets(lucia, "¡Nos alegra haberte ayudado! Escríbenos cuando quieras si necesitas algo más.")
        await until_in_thread(h, RESOLVED_NOTE)
        assert card_fields(h)["Status"] == "✅ Resolved"
        assert len(h.slack.calls_to("chat.update")) > updates  # the card was updated in place
        survey = h.bridge.catalogs.gettext("es", texts.SURVEY_QUESTION)
        assert not any(f["type"] == "message" and f["message"]["text"] == survey for f in lucia.seen)
        resolved = await h.bridge.store.fetch_one(sa.select(CONVERSATION.c.status, CONVERSATION.c.resolved_at))
        assert resolved is not None and resolved.status == "resolved" and resolved.resolved_at is not None
        again = await choose(lucia, answer["id"], "faq:person")
        assert (again["type"], again["code"]) == ("error", "stale_choice")

    async with h.widget(name="Ana", locale="en") as ana:  # an agent resolves the other conversation
        await ana.say("Where is my order?", "c1")  # names no keyword: no bot answer
        await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 2)
        ana_root = str(h.slack.channel_messages()[1]["ts"])
        await h.slack.agent_says("It ships today!", thread_ts=ana_root)
        await h.slack.click_button(ana_root, "desk_close", user=ALEX)
        await until_in_thread(h, "Alex closed this conversation.", index=1)
    assert await faq_messages(h) == ["refund_policy"]

    _, body = await h.slack.post_command("/stats", "today")
    fields = [f["text"] for block in json.loads(body)["blocks"] for f in block.get("fields") or ()]
    assert "*Resolved by the bot alone*\n50%" in fields
    assert "*Resolution rate*\n100% (2 resolved)" in fields


async def test_after_a_bot_resolution_the_customer_writing_again_reopens_and_old_buttons_are_stale(
    faq_harness: Harness,
) -> None:
    h = faq_harness
    async with h.widget(name="Lucía", locale="es") as widget:
        first = await spanish_customer_asks_for_a_refund(h, widget)
        await choose(widget, first["id"], "faq:answered")
        await until_in_thread(h, RESOLVED_NOTE)

        await widget.say("Ahora olvidé mi contraseña", "c2")

        await until_in_thread(h, "The customer wrote again: conversation reopened.")
        [_, second] = await bot_answers(widget, 2)
        assert second["text"] == h.bridge.catalogs.canned("es", "password_reset").text
        old = await choose(widget, first["id"], "faq:person")  # that answer was pressed already
        assert (old["type"], old["code"]) == ("error", "stale_choice")
        new = await choose(widget, second["id"], "faq:person")
        assert new["type"] == "chosen"
        await until_in_thread(h, ASKED_NOTE)
        assert card_fields(h)["Status"] == "🟢 Open"


async def test_no_bot_answer_once_an_agent_replied(faq_harness: Harness) -> None:
    h = faq_harness
    async with h.widget(name="Lucía", locale="es") as widget:
        await widget.say("Hola", "c1")
        await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1)
        await h.slack.agent_says("¡Hola! ¿En qué te ayudo?", thread_ts=root(h))
        await widget.expect("message")

        await widget.say("Quiero un reembolso", "c2")  # the ack comes after the bot would have answered

        assert await faq_messages(h) == []
        await until_in_thread(h, "Quiero un reembolso")
        assert not any("FAQ bot" in t for t in texts_in(h))


async def test_presses_from_someone_else_or_of_unoffered_choices_are_refused(faq_harness: Harness) -> None:
    h = faq_harness
    async with h.widget(name="Lucía", locale="es") as widget, h.widget(name="Mallory", locale="en") as other:
        answer = await spanish_customer_asks_for_a_refund(h, widget)
        await other.say("hi", "m1")
        messages = await count(h, MESSAGE)

        someone_elses = await choose(other, answer["id"], "faq:answered")
        not_offered = await choose(widget, answer["id"], "faq:resolve")
        not_a_question = await choose(widget, answer["id"] - 1, "faq:answered")  # Lucía's own message

        for refused in (someone_elses, not_offered, not_a_question):
            assert (refused["type"], refused["code"]) == ("error", "bad_choice"), refused
        assert await count(h, MESSAGE) == messages
        statuses = await h.bridge.store.fetch_all(sa.select(CONVERSATION.c.status))
        assert {row.status for row in statuses} == {"open"}
        assert not any(RESOLVED_NOTE in t or ASKED_NOTE in t for t in thread_texts_all(h))


def thread_texts_all(h: Harness) -> list[str]:
    return [t for index in range(len(h.slack.channel_messages())) for t in texts_in(h, index)]


async def test_agents_are_not_offered_the_keyword_lists_as_answers(faq_harness: Harness) -> None:
    _, body = await faq_harness.slack.post_command("/canned", "")
    listing = json.loads(body)["text"]
    assert "`refund_policy`" in listing and ".keywords" not in listing

    _, body = await faq_harness.slack.post_command("/canned", "refund_policy.keywords")
    assert json.loads(body)["text"].startswith("There is no canned answer `refund_policy.keywords`.")

"""Card numbers that customers and agents type never reach the database, Slack, Telegram or the logs: each is
stored, posted and logged as ``[card ending 1234]`` (reliability target H28).

1,000 Luhn-valid numbers (13-19 digits, plain or grouped with spaces, dashes or both) go through the widget, the
Telegram chats and the agents' Slack replies to both; 1,000 ``+``-prefixed phone numbers and 1,000 Luhn-invalid
16-digit strings go with them and must arrive as written (the false-positive rate). The leak checks do not use
``bridge.redaction``: they look for any 13-19 digits of a test number in a row, whatever separators sit between
them, in every column of every table, in the SQLite file and its WAL, in every call the emulators recorded and
in every log record captured at DEBUG (python-telegram-bot logs the raw updates it polls there).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge.engine import CONVERSATION, DELIVERY, MESSAGE
from bridge.sandbox.telegram import TelegramEmulator
from tests.scenarios.test_agent_works_a_conversation_from_its_card import card_fields, conversation, until_note
from tests.scenarios.test_customer_rates_with_buttons_and_comments import choose, close_and_get_survey
from tests.support import cards as gen
from tests.support.harness import Harness, Widget

CHATS = (70001, 70002, 70003, 70004)  # each chat has its own Telegram pace (a burst of 3, then 1 message/s)
PER_MESSAGE = 25  # numbers per customer message and per agent reply in the widget's thread
PER_TELEGRAM_REPLY = 60  # an agent reply to a chat: 2 per chat stay within its burst, and under 4,096 characters
JOINERS = ("; ", ", ", "\n", " / ", " and ")
CARD_LABELS = ("card", "card no.", "pay with", "my card:", "(visa)", "it's", "#")
OTHER_LABELS = ("call", "number", "order", "ref", "phone:")
MASK = "[card ending "

_DIGIT_RUN = re.compile(r"[0-9](?:[ -]?[0-9]){12,}")
_DIGIT_RUN_BYTES = re.compile(rb"[0-9](?:[ -]?[0-9]){12,}")


class Numbers:
    """The test numbers, seeded: cards (and a few more for an edit) and the phone and Luhn-invalid strings."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.rng = rng
        self.cards = gen.cards(rng, 1005)
        self.edited, self.cards = self.cards[1000:], self.cards[:1000]  # 5 more arrive in a Telegram edit
        self.phones = gen.phones(rng, 1000)
        self.invalid = gen.invalid_numbers(rng, 1000)
        self.card_set = set(self.cards + self.edited)
        self.secrets = {gen.digits_of(n) for n in self.card_set}

    def messages(self, cards: list[str], others: list[str], size: int) -> list[str]:
        """Messages of ``size`` numbers each, cards and the others shuffled together, each with a label."""
        items = cards + others
        self.rng.shuffle(items)
        texts = []
        for start in range(0, len(items), size):
            parts = []
            for number in items[start : start + size]:
                label = self.rng.choice(CARD_LABELS if number in self.card_set else OTHER_LABELS)
                parts.append(f"{label} {number}" if label != "#" else f"#{number}")
            texts.append("Hi! " + "".join(p + self.rng.choice(JOINERS) for p in parts[:-1]) + parts[-1] + " thanks")
        return texts


def leaked(haystacks: Iterable[str | bytes], secrets: set[str]) -> set[str]:
    """The secret digit strings found in ``haystacks``: 13-19 of their digits in a row, single spaces or dashes
    between them allowed (how they were typed), inside any longer digit run too."""
    found: set[str] = set()
    for haystack in haystacks:
        if isinstance(haystack, bytes):
            runs = [r.decode() for r in _DIGIT_RUN_BYTES.findall(haystack)]
        else:
            runs = _DIGIT_RUN.findall(haystack)
        for run in runs:
            digits = run.replace(" ", "").replace("-", "")
            for size in range(13, min(19, len(digits)) + 1):
                for at in range(len(digits) - size + 1):
                    if digits[at : at + size] in secrets:
                        found.add(digits[at : at + size])
    return found


def split(items: list[str], *shares: int) -> list[list[str]]:
    out, at = [], 0
    for share in shares:
        out.append(items[at : at + share])
        at += share
    out.append(items[at:])
    return out


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at DEBUG, from before the bridge starts (asked for before the harness)."""
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_a_thousand_cards_are_masked_in_the_database_slack_telegram_and_logs(
    debug_logs: pytest.LogCaptureFixture, telegram_harness: Harness, tmp_path: Path
) -> None:
    caplog, h = debug_logs, telegram_harness
    telegram, slack = _telegram(h), h.slack
    numbers = Numbers(seed=28)
    w_cards, t_cards, a_cards = split(numbers.cards, 334, 333)
    others = numbers.phones + numbers.invalid
    w_others, t_others, a_others = split(others, 667, 667)
    widget_texts = numbers.messages(w_cards, w_others, PER_MESSAGE)
    telegram_texts = numbers.messages(t_cards, t_others, PER_MESSAGE)
    a_tg_cards, a_w_cards = split(a_cards, 160)[:2]
    a_tg_others, a_w_others = split(a_others, 4 * 2 * PER_TELEGRAM_REPLY - 160)[:2]
    to_telegram = numbers.messages(a_tg_cards, a_tg_others, PER_TELEGRAM_REPLY)
    to_widget = numbers.messages(a_w_cards, a_w_others, PER_MESSAGE)
    assert len(to_telegram) == 2 * len(CHATS) and all(len(t) < 4000 for t in to_telegram)

    async with h.widget(name="Wanda", locale="en") as widget:
        for n, text in enumerate(widget_texts):  # the widget's customer
            assert (await widget.say(text, f"w{n}"))["status"] == "sent"
        for n, text in enumerate(telegram_texts):  # the Telegram customers, one chat after another
            telegram.user_sends(CHATS[n % len(CHATS)], text, first_name=f"Teo{n % len(CHATS)}", language_code="en")
        typo = telegram.user_sends(CHATS[0], "my card is (typo, fixing it)", first_name="Teo0", language_code="en")
        await slack.wait_for(lambda: len(slack.channel_messages()) == 1 + len(CHATS), timeout=20)
        roots = {_name(root): root["ts"] for root in slack.channel_messages()}
        customer_messages = len(widget_texts) + len(telegram_texts) + 1
        await _until_delivered(h, customer_messages)

        fixed = "my card is " + ", ".join(numbers.edited)  # the customer edits a message to add cards
        telegram.user_edits(CHATS[0], typo["message"]["message_id"], fixed)
        for n, text in enumerate(to_telegram):  # the agents reply: 2 long replies to each chat...
            await slack.agent_says(text, thread_ts=roots[f"Teo{n % len(CHATS)}"])
        for text in to_widget:  # ...and many to the widget
            await slack.agent_says(text, thread_ts=roots["Wanda"])
        await _until_delivered(h, customer_messages + len(to_telegram) + len(to_widget))
        await slack.wait_for(lambda: any("my card is " in str(c.params) for c in slack.calls_to("chat.update")))
        frames = await _agent_frames(widget, len(to_widget))

        stored = await _stored_texts(h)
        everything = await _every_value(h)
        names, files = await asyncio.to_thread(_database_files, tmp_path)

    # 100% masked: every card is in the database once, as its mask, and reached each side as its mask.
    assert sum(t.count(MASK) for t in stored) == len(numbers.card_set)
    customer_cards = len(w_cards) + len(t_cards)
    posted = [str(c.params.get("text", "")) for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert sum(t.count(MASK) for t in posted) == customer_cards
    sent = [str(params.get("text", "")) for method, params in telegram.requests if method == "sendMessage"]
    assert sum(t.count(MASK) for t in sent) == len(a_tg_cards)
    assert sum(f["message"]["text"].count(MASK) for f in frames) == len(a_w_cards)

    # 0 leaks: database (every column of every table, and the SQLite file and its WAL), emulators, logs.
    assert leaked(everything, numbers.secrets) == set()
    assert leaked(files, numbers.secrets) == set()
    if h.bridge.store.dialect == "sqlite":
        assert names == [f"switchboard.db{end}" for end in ("", "-serve.lock", "-shm", "-wal")], names
    calls = [json.dumps(c.params, default=str) for c in slack.calls]
    calls += [json.dumps(params, default=str) for _, params in telegram.requests]
    assert leaked(calls, numbers.secrets) == set()
    assert leaked((f["message"]["text"] for f in frames), numbers.secrets) == set()
    logged = [caplog.text, *(r.getMessage() for r in caplog.records)]
    assert len(caplog.records) > 100  # DEBUG was captured: the libraries' records too
    assert leaked(logged, numbers.secrets) == set()

    # False positives: the phone numbers and Luhn-invalid strings are stored as they were typed.
    text = "\n".join(stored)
    masked_phones = sum(p not in text for p in numbers.phones)
    masked_invalid = sum(n not in text for n in numbers.invalid)
    rate = (masked_phones + masked_invalid) / (len(numbers.phones) + len(numbers.invalid))
    print(
        f"\nH28 [{h.bridge.store.dialect}] cards masked: {len(numbers.card_set)}/{len(numbers.card_set)}; "
        f"false positives: {masked_phones}/{len(numbers.phones)} phone numbers, "
        f"{masked_invalid}/{len(numbers.invalid)} Luhn-invalid 16-digit strings ({rate:.2%})"
    )
    assert rate <= 0.01


async def test_a_survey_comment_with_a_card_is_masked_on_the_card(harness: Harness) -> None:
    """The comment after a rating is kept on the conversation (and shown on the Slack card), not only as a
    message: it is masked there too."""
    async with conversation(harness) as widget:
        survey = await close_and_get_survey(harness, widget)
        await choose(widget, survey["id"], "csat:2")
        await widget.say("You charged 4111 1111 1111 1111 twice!", "c2")
        await until_note(harness, "The customer added a comment to their rating")
        assert card_fields(harness)["Rating"].endswith("“You charged [card ending 1111] twice!”")
        row = await harness.bridge.store.fetch_one(sa.select(CONVERSATION.c.csat_comment))
        assert row is not None and row.csat_comment == "You charged [card ending 1111] twice!"
        calls = [json.dumps(c.params) for c in harness.slack.calls]
        assert leaked(calls + [str(v) for v in await _every_value(harness)], {"4111111111111111"}) == set()


def _telegram(h: Harness) -> TelegramEmulator:
    assert h.telegram is not None
    return h.telegram


def _name(root: dict[str, Any]) -> str:
    """The customer a thread's root card is about (the names here are Wanda and Teo0-Teo3)."""
    found = re.search(r"Wanda|Teo\d", root["text"])
    assert found is not None, root["text"]
    return found.group(0)


async def _until_delivered(h: Harness, messages: int) -> None:
    """Wait until ``messages`` messages are stored and every delivery is sent (none left pending, none dead)."""

    async def done() -> bool:
        stored = await h.bridge.store.fetch_one(sa.select(sa.func.count()).select_from(MESSAGE))
        waiting = await h.bridge.store.fetch_one(
            sa.select(sa.func.count()).select_from(DELIVERY).where(DELIVERY.c.status != "sent")
        )
        assert stored is not None and waiting is not None
        return int(stored[0]) >= messages and int(waiting[0]) == 0

    for _ in range(300):
        if await done():
            return
        await asyncio.sleep(0.1)
    dead = await h.bridge.store.fetch_all(sa.select(DELIVERY.c.id, DELIVERY.c.status, DELIVERY.c.last_error))
    raise AssertionError(f"deliveries not all sent: {[tuple(r) for r in dead if r.status != 'sent']}")


async def _agent_frames(widget: Widget, count: int) -> list[dict[str, Any]]:
    """The agents' messages the widget received (``count`` of them)."""

    def agents() -> list[dict[str, Any]]:
        return [f for f in widget.seen if f["type"] == "message" and f["message"]["author"] == "agent"]

    while len(agents()) < count:
        await widget.expect("message", timeout=20)
    return agents()


def _database_files(folder: Path) -> tuple[list[str], list[bytes]]:
    """The SQLite database's files (the database, its WAL and shared memory, the serve lock), names and bytes."""
    paths = sorted(folder.glob("switchboard.db*"))
    return [p.name for p in paths], [p.read_bytes() for p in paths]


async def _stored_texts(h: Harness) -> list[str]:
    return [row.text for row in await h.bridge.store.fetch_all(sa.select(MESSAGE.c.text))]


async def _every_value(h: Harness) -> list[str]:
    """Every value of every column of every table in the database (reflected: tables added later count too)."""
    metadata = sa.MetaData()
    async with h.bridge.store.engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
    values: list[str] = []
    for table in metadata.sorted_tables:
        for row in await h.bridge.store.fetch_all(sa.select(table)):
            values.extend(str(value) for value in row)
    return values
